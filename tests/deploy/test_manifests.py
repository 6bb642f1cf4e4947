"""deploy/ is validated, not just written: the RayJob against KubeRay's CRD schema, the `ray up`
config with the checks `ray up` itself runs, the Dockerfile's pins against pyproject.toml, the
documented commands against corrupter's own parser; and a broken copy of each is refused."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.deploy.commands import (
    DEPLOY,
    DEPLOY_README,
    entrypoint_config,
    split_submit,
    submit_commands,
    submit_recipe,
    token_file_of_fetch_command,
)
from tests.processes import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

KUBERAY = REPO / "tests" / "data" / "kuberay" / "rayjob-v1.openapi.json"
RAY_SCHEMA = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
PINNED = ("torch", "torchvision", "pillow", "ray")  # the libraries whose versions make the bytes


# -- KubeRay RayJob ---------------------------------------------------------------------------------

def closed(schema):
    """The schema as the Kubernetes API server applies a CRD's structural schema: an object that
    lists its ``properties`` admits no other field (unless it says x-kubernetes-preserve-unknown-fields).
    Plain JSON Schema would let a misspelt field through (see tests/data/kuberay/SOURCE.md)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        result["additionalProperties"] = False
    return result


def rayjob_validator(strict: bool = True) -> jsonschema.Draft7Validator:
    schema = json.loads(KUBERAY.read_text())
    return jsonschema.Draft7Validator(closed(schema) if strict else schema)


def rayjob() -> dict:
    return yaml.safe_load((DEPLOY / "rayjob.yaml").read_text())


def rayjob_errors(document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in rayjob_validator().iter_errors(document)]


def containers(job: dict) -> list[dict]:
    cluster = job["spec"]["rayClusterSpec"]
    templates = [cluster["headGroupSpec"]["template"]] + [g["template"] for g in cluster["workerGroupSpecs"]]
    return [c for t in templates for c in t["spec"]["containers"]]


def test_rayjob_is_a_valid_kuberay_rayjob_v1():
    job = rayjob()
    assert rayjob_errors(job) == []
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")


def test_rayjob_uses_none_of_the_fields_whose_rules_the_schema_cannot_check():
    """The CRD's CEL rules (x-kubernetes-validations) are not evaluated by jsonschema; none of the
    fields that carry one may appear in the manifest unchecked."""
    ruled = []

    def walk(node, path):
        if isinstance(node, dict):
            if "x-kubernetes-validations" in node:
                ruled.append(path)
            for key, value in node.get("properties", {}).items():
                walk(value, path + (key,))
            if isinstance(node.get("items"), dict):
                walk(node["items"], path + ("[]",))

    walk(json.loads(KUBERAY.read_text()), ())
    assert ruled, "the schema has no CEL rules any more: update this test"

    def present(document, path):
        if not path:
            return True
        if path[0] == "[]":
            return isinstance(document, list) and any(present(item, path[1:]) for item in document)
        return isinstance(document, dict) and path[0] in document and present(document[path[0]], path[1:])

    assert [p for p in ruled if present(rayjob(), p)] == []


def test_rayjob_asks_for_gpus_token_auth_a_deadline_and_retries():
    job = rayjob()
    spec, cluster = job["spec"], job["spec"]["rayClusterSpec"]
    assert cluster["authOptions"] == {"mode": "token", "secretName": "corrupter-ray-token"}
    # KubeRay's authOptions needs Ray 2.52+; and the cluster runs the Ray that pyproject pins
    assert Version(cluster["rayVersion"]) >= Version("2.52") and cluster["rayVersion"] == pinned("ray")
    assert 0 < spec["activeDeadlineSeconds"] and 1 <= spec["backoffLimit"]
    assert spec["shutdownAfterJobFinishes"] is True
    [gpu_group] = cluster["workerGroupSpecs"]
    assert gpu_group["minReplicas"] <= gpu_group["replicas"] <= gpu_group["maxReplicas"]
    pod = gpu_group["template"]["spec"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    for container in pod["containers"]:
        resources = container["resources"]
        # Kubernetes requires request == limit for an extended resource such as a GPU
        assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == "1"
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert all("nvidia.com/gpu" not in c["resources"]["limits"] for c in head["template"]["spec"]["containers"])


def test_rayjobs_set_up_is_the_image_and_its_entrypoint_a_valid_corrupter_run():
    job = rayjob()
    assert "runtimeEnvYAML" not in job["spec"]  # image-based: nothing is uploaded
    assert len({c["image"] for c in containers(job)}) == 1
    config = entrypoint_config(shlex.split(job["spec"]["entrypoint"]), image_root=dockerfile_workdir())
    assert config.name == "imagenet-c"
    assert config.output.uri.startswith("s3://")  # not inside a pod: the release outlives the cluster
    shards = config.input.shards
    assert all(s.startswith("s3://") for s in ([shards] if isinstance(shards, str) else shards))


def test_the_image_holds_the_configs_the_rayjob_names():
    workdir = dockerfile_workdir()
    entrypoint = shlex.split(rayjob()["spec"]["entrypoint"])
    [config] = [a for a in entrypoint if a.endswith(".yaml")]
    copied = re.findall(r"^COPY (\S+) \./(\S+)$", dockerfile(), re.MULTILINE)
    assert ("configs", "configs") in copied and config.startswith(f"{workdir}/configs/")


def mutate(document: dict, path: str, value=None, *, delete: bool = False) -> dict:
    """A deep copy of ``document`` with the value at ``path`` (dots; integers index lists) replaced."""
    broken = copy.deepcopy(document)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = broken
    for key in parents:
        node = node[key]
    if delete:
        del node[last]
    else:
        node[last] = value
    return broken


WORKERS = "spec.rayClusterSpec.workerGroupSpecs.0"
WORKER = f"{WORKERS}.template.spec.containers.0"


@pytest.mark.parametrize("path, value, delete, complaint", [
    ("spec.backoffLimit", "two", False, "is not of type 'integer'"),
    ("spec.activeDeadlineSecond", 3600, False, "Additional properties are not allowed"),  # misspelt
    ("spec.rayClusterSpec.authOptions.mode", "tokens", False, "is not one of"),
    (f"{WORKER}.resource", {"limits": {"nvidia.com/gpu": "1"}}, False, "Additional properties"),
    (f"{WORKER}.resources.limits.memory", "32 GB", False, "does not match"),  # not a quantity
    (f"{WORKERS}.template.spec.tolerations.0.tolerationSeconds", "forever", False, "is not of type"),
    (f"{WORKERS}.groupName", None, True, "'groupName' is a required property"),
    (f"{WORKER}.name", None, True, "'name' is a required property"),
    ("spec.rayClusterSpec.headGroupSpec", None, True, "'headGroupSpec' is a required property"),
])
def test_a_broken_rayjob_is_refused(path, value, delete, complaint):
    errors = rayjob_errors(mutate(rayjob(), path, value, delete=delete))
    assert any(complaint in e for e in errors), errors


def test_plain_json_schema_would_let_a_misspelt_field_through():
    """Why the schema is closed before use (see ``closed``)."""
    broken = mutate(rayjob(), "spec.activeDeadlineSecond", 3600)
    assert list(rayjob_validator(strict=False).iter_errors(broken)) == []
    assert list(rayjob_validator(strict=True).iter_errors(broken)) != []


# -- `ray up` on AWS --------------------------------------------------------------------------------

def cluster_aws() -> dict:
    return yaml.safe_load((DEPLOY / "cluster-aws.yaml").read_text())


def ray_up_checks(config: dict) -> None:
    """What `ray up` runs on a config before it calls the cloud (ray.autoscaler._private.commands.
    _bootstrap_config): the installed Ray's ray-schema.json as is, then its defaults filled in and
    Ray's own validate_config (schema again, head type, worker counts)."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    jsonschema.Draft7Validator(json.loads(RAY_SCHEMA.read_text())).validate(config)
    validate_config(prepare_config(copy.deepcopy(config)))


def test_cluster_aws_passes_ray_ups_checks():
    ray_up_checks(cluster_aws())


def test_cluster_aws_installs_nothing_over_the_pinned_image():
    from ray.autoscaler._private.util import prepare_config

    prepared = prepare_config(cluster_aws())  # with Ray's defaults, as `ray up` runs it
    for key in ("initialization_commands", "setup_commands", "head_setup_commands", "worker_setup_commands"):
        assert prepared[key] == [], key


def test_cluster_aws_has_gpu_workers_and_token_auth_on_every_node():
    config = cluster_aws()
    assert config["provider"]["type"] == "aws"
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}  # the head runs the driver only
    gpu_types = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu_types and all(t["node_config"]["InstanceType"].startswith(("g", "p")) for t in gpu_types)
    assert sum(t.get("max_workers", 0) for t in gpu_types) >= 1
    # one token, copied to every node's default token path, the one the README has you make
    assert config["file_mounts"] == {"~/.ray/auth_token": token_file_of_fetch_command()}
    for commands in (config["head_start_ray_commands"], config["worker_start_ray_commands"]):
        assert [c for c in commands if "ray start" in c and "RAY_AUTH_MODE=token ray start" in c] != []
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start  # the Jobs API reached through `ray dashboard`
    assert config["docker"]["image"] == rayjob()["spec"]["rayClusterSpec"]["headGroupSpec"][
        "template"]["spec"]["containers"][0]["image"]


@pytest.mark.parametrize("path, value, delete", [
    ("max_workers", "eight", False),                               # wrong type
    ("max_worker", 8, False),                                      # misspelt top-level field
    ("docker.imagee", "x", False),                                 # misspelt docker field
    ("available_node_types.gpu.node_config", None, True),          # required
    ("available_node_types.gpu.resources.GPU", -1, False),         # below the minimum
    ("head_node_type", "cpu", False),                              # not one of the node types
    ("provider", None, True),                                      # required
])
def test_a_broken_cluster_config_is_refused(path, value, delete):
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        ray_up_checks(mutate(cluster_aws(), path, value, delete=delete))


# -- The image's pins -------------------------------------------------------------------------------

def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def dockerfile_workdir() -> str:
    [workdir] = re.findall(r"^WORKDIR (\S+)$", dockerfile(), re.MULTILINE)
    return workdir


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def pinned(name: str, project: dict | None = None) -> str:
    """The exact version pyproject.toml pins ``name`` to (fails if it is not pinned exactly)."""
    project = pyproject() if project is None else project
    [requirement] = [r for r in map(Requirement, project["project"]["dependencies"]) if r.name.lower() == name]
    [spec] = list(requirement.specifier)
    assert spec.operator == "==", f"pyproject.toml does not pin {name} exactly: {requirement}"
    return spec.version


def dockerfile_pins(text: str) -> dict[str, str]:
    """{library: version} as the Dockerfile pins them: ray and python from Ray's image tag, the
    others from `pip install name==version`."""
    [(ray_version, major, minor)] = re.findall(r"^FROM rayproject/ray:([\d.]+)-py(\d)(\d+)\S*$", text, re.MULTILINE)
    pins = {"ray": ray_version, "python": f"{major}.{minor}"}
    for line in re.findall(r"^RUN pip install .*$", text, re.MULTILINE):
        pins |= {n.lower(): v for n, v in re.findall(r"\b([A-Za-z][\w.-]*)==([\w.+-]+)", line)}
    return pins


def pin_problems(docker_text: str, project: dict) -> list[str]:
    pins = dockerfile_pins(docker_text)
    problems = [f"{name}: Dockerfile {pins.get(name)}, pyproject.toml {pinned(name, project)}"
                for name in PINNED if pins.get(name) != pinned(name, project)]
    requires_python = project["project"]["requires-python"]
    if Version(pins["python"]) not in SpecifierSet(requires_python):
        problems.append(f"python: Dockerfile {pins['python']}, pyproject.toml requires-python {requires_python}")
    return problems


def test_the_dockerfile_pins_what_pyproject_pins():
    assert pin_problems(dockerfile(), pyproject()) == []
    assert set(PINNED) | {"python"} <= set(dockerfile_pins(dockerfile()))


@pytest.mark.parametrize("old, new, library", [
    ("torch==2.14.1", "torch==2.14.0", "torch"),
    ("torchvision==0.29.1", "torchvision==0.30.0", "torchvision"),
    ("pillow==13.0.0", "pillow==12.1.0", "pillow"),
    ("rayproject/ray:2.60.0-", "rayproject/ray:2.59.0-", "ray"),
    ("-py311-", "-py39-", "python"),
])
def test_a_dockerfile_that_drifts_from_pyproject_is_caught(old, new, library):
    text = dockerfile()
    assert old in text
    assert [p for p in pin_problems(text.replace(old, new), pyproject()) if p.startswith(f"{library}:")]


def test_every_byte_making_library_is_pinned_exactly_in_pyproject():
    for name in PINNED:
        pinned(name)
    loose = copy.deepcopy(pyproject())
    loose["project"]["dependencies"] = [d if not d.startswith("ray") else "ray[default]>=2.40"
                                        for d in loose["project"]["dependencies"]]
    with pytest.raises(AssertionError, match="does not pin ray exactly"):
        pinned("ray", loose)


# -- The documented submit commands -----------------------------------------------------------------

def test_every_documented_submit_has_the_recipes_options_and_a_valid_corrupter_run():
    commands = submit_commands(DEPLOY_README.read_text())
    recipe_options, _ = split_submit(submit_recipe().argv)
    assert len(commands) >= 2 and "--working-dir" in recipe_options
    for argv in commands:
        options, entrypoint = split_submit(argv)
        assert options == recipe_options, argv
        config = entrypoint_config(entrypoint)
        assert str(config.output.uri).startswith("s3://"), argv  # never a path inside the upload
