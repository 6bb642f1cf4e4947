"""`corrupter list`: every registered corruption with the parameters of its levels."""

import json

from corrupter import ops
from corrupter.cli.main import main


def test_list_shows_every_corruption_with_its_levels(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ops.list_corruptions():
        assert f"\n{name}  [" in "\n" + out
    assert "sigma=170.8" in out and "factors=[1..1.11] (12 values)" in out


def test_list_by_tag_and_as_json(capsys):
    assert main(["list", "--tag", "imagenet-c", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 15 and all(len(v["levels"]) == 5 for v in listed.values())
    assert main(["list", "--tag", "imagenet-c-extra", "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out)) == ["gaussian_blur", "saturate", "spatter", "speckle_noise"]
