"""Model specs: the three forms, local weights only, and the errors that say how to fix a spec."""

from __future__ import annotations

import pytest
import torch

from corrupter.evaluation.models import ModelSpecError, Normalized, load_model, parse_model_spec


def tiny_classifier() -> torch.nn.Module:
    """A MODULE:FUNCTION model for these tests: mean colour -> 1000 logits."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 1000))


def not_a_module():
    return "model"


@pytest.mark.parametrize("spec, message", [
    ("resnet50", "expected MODULE:FUNCTION"),
    ("torchvision:", "expected MODULE:FUNCTION"),
    ("no_such_module_xyz:build", "cannot import no_such_module_xyz"),
    ("tests.evaluate.test_models:missing", "has no function missing"),
    ("tests.evaluate.test_models:not_a_module", "not a torch.nn.Module"),
    ("torchvision:resnet_9000", "torchvision has no model"),
    ("timm:no_such_net_9000", "timm has no model"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ModelSpecError, match=message):
        load_model(parse_model_spec(spec))


def test_a_function_spec_loads_the_users_module():
    model = load_model(parse_model_spec("tests.evaluate.test_models:tiny_classifier"))
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 1000) and not model.training


def test_torchvision_without_weights_names_the_file_and_downloads_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ModelSpecError, match=r"downloads nothing.*--weights FILE.*resnet18-f37072fd\.pth"):
        load_model(parse_model_spec("torchvision:resnet18"))


def test_torchvision_with_a_state_dict_normalises_as_imagenet(tmp_path):
    import torchvision

    reference = torchvision.models.get_model("squeezenet1_1", weights=None).eval()
    path = tmp_path / "squeeze.pth"
    torch.save(reference.state_dict(), path)
    model = load_model(parse_model_spec("torchvision:squeezenet1_1", str(path)))
    assert isinstance(model, Normalized)
    images = torch.rand(1, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(model(images), reference((images - mean) / std))


def test_weights_that_do_not_fit_are_refused(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ModelSpecError, match="does not fit torchvision:squeezenet1_1"):
        load_model(parse_model_spec("torchvision:squeezenet1_1", str(path)))
    with pytest.raises(ModelSpecError, match="no such file"):
        parse_model_spec("torchvision:squeezenet1_1", str(tmp_path / "absent.pth"))


def test_timm_with_local_weights(tmp_path):
    timm = pytest.importorskip("timm")
    reference = timm.create_model("resnet18", pretrained=False).eval()
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    model = load_model(parse_model_spec("timm:resnet18", str(path)))
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)
