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


def test_list_shows_level_tables_of_any_length_and_ops_without_parameters(capsys):
    assert main(["list", "--tag", "geirhos2018"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n    ") > 54  # a summary line and one line per level, 54 levels
    assert "    8: contrast=0.01\n" in out and "    1: sigma=inf\n" in out and "    7: width=180\n" in out
    assert "grayscale  [digital, geirhos2018]  deterministic\n" in out
    assert out.count("    1: (no parameters)\n") == 3  # grayscale, power_equalisation, false_colour
    assert "levels by distortion, mildest first: 1, 2, 4, 3" in out  # rotation: 180 degrees moves most
    assert "\n10 corruptions;" in out
