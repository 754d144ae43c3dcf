"""Policy files that cannot serve are refused at load, naming the file and the metadata key."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from schedgym import evaluate
from schedgym.policies import runtime
from schedgym.policies.runtime import METADATA_PREFIX, REQUIRED_METADATA, PolicyFileError
from schedgym.policies.scheduler import PRETRAINED_DIR, load_policy

VM, SOC = "schedgym/VMReschedule-v1", "schedgym/SoCDAG-v0"
SHIPPED = PRETRAINED_DIR / "vm.onnx"


def _with_metadata(tmp_path: Path, edit: Callable[[dict[str, str]], None], name: str = "edited.onnx") -> Path:
    """A copy of the shipped VM policy whose metadata (key -> raw string) ``edit`` changed."""
    model = onnx.load(str(SHIPPED))
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    edit(metadata)
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_the_error_is_a_value_error() -> None:
    assert issubclass(PolicyFileError, ValueError)


@pytest.mark.parametrize("key", list(REQUIRED_METADATA))
def test_a_missing_metadata_key_is_named_with_what_is_expected(tmp_path, key) -> None:
    path = _with_metadata(tmp_path, lambda meta: meta.pop(METADATA_PREFIX + key))
    with pytest.raises(PolicyFileError) as error:
        runtime.load(path)
    message = str(error.value)
    assert str(path) in message and f"{METADATA_PREFIX}{key} is missing" in message
    assert REQUIRED_METADATA[key] in message


def test_metadata_that_is_not_json_names_file_and_key(tmp_path) -> None:
    path = _with_metadata(tmp_path, lambda meta: meta.update({"schedgym.n_max": "N_MAX=127"}))
    with pytest.raises(PolicyFileError, match=r"edited\.onnx: metadata key schedgym\.n_max is not JSON"):
        runtime.load(path)


def test_metadata_of_the_wrong_kind_says_what_is_expected(tmp_path) -> None:
    path = _with_metadata(tmp_path, lambda meta: meta.update({"schedgym.node_features": '"cpu"'}))
    with pytest.raises(PolicyFileError, match="schedgym.node_features is 'cpu'; expected a list of node feature"):
        runtime.load(path)


def test_a_file_without_schedgym_metadata(tmp_path) -> None:
    path = _with_metadata(tmp_path, lambda meta: meta.clear())
    with pytest.raises(PolicyFileError, match=r"edited\.onnx has no SchedGym metadata"):
        runtime.load(path)


@pytest.mark.parametrize("content", ["garbage", "truncated", "directory"])
def test_a_file_that_is_not_onnx_or_unreadable_is_named(tmp_path, content) -> None:
    path = tmp_path / "bad.onnx"
    if content == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"not a model" if content == "garbage" else SHIPPED.read_bytes()[:5000])
    with pytest.raises(PolicyFileError, match=f"{path} is not a readable ONNX model"):
        runtime.load(path)


def test_an_onnx_model_that_is_not_a_pointer_policy(tmp_path) -> None:
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["logits"])], "identity",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    for entry in onnx.load(str(SHIPPED)).metadata_props:
        model.metadata_props.add(key=entry.key, value=entry.value)
    path = tmp_path / "identity.onnx"
    onnx.save(model, str(path))
    with pytest.raises(PolicyFileError, match="identity.onnx is not a SchedGym pointer policy graph: it lacks input nodes"):
        runtime.load(path)


def test_a_policy_for_another_env_is_refused_at_load_naming_both_envs() -> None:
    assert runtime.load(SHIPPED, env_id=VM).env_id == VM
    with pytest.raises(PolicyFileError, match=f"vm.onnx is a policy for {VM}, not for {SOC}"):
        runtime.load(SHIPPED, env_id=SOC)
    with pytest.raises(PolicyFileError, match=f"soc.onnx is a policy for {SOC}, not for {VM}"):
        load_policy("pretrained:soc", env_id=VM)


def _cli_error(capsys, policy: str) -> str:
    """evaluate.py's message for ``--policies policy``; it must exit 2 without a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["--env", VM, "--instances", "small-test", "--policies", policy, "--no-progress"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert ": error: " in err and "Traceback" not in err
    return err


def test_cli_names_the_file_and_the_missing_key(tmp_path, capsys) -> None:
    path = _with_metadata(tmp_path, lambda meta: meta.pop("schedgym.env_id"))
    err = _cli_error(capsys, str(path))
    assert f"{path}: metadata key schedgym.env_id is missing" in err


def test_cli_names_the_file_and_the_key_that_is_not_json(tmp_path, capsys) -> None:
    path = _with_metadata(tmp_path, lambda meta: meta.update({"schedgym.node_features": "cpu,mem"}))
    err = _cli_error(capsys, str(path))
    assert f"{path}: metadata key schedgym.node_features is not JSON" in err


@pytest.mark.parametrize("damage", ["truncated", "bad entries"])
def test_cli_names_a_damaged_checkpoint_zip(tmp_path, capsys, damage) -> None:
    path = tmp_path / "best_model.zip"
    with zipfile.ZipFile(path, "w") as archive:  # the entries of an SB3 save, with bad content
        archive.writestr("data", '{"policy_class": ')
        archive.writestr("policy.pth", b"\x00" * 64)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    err = _cli_error(capsys, str(path))
    assert f"{path} is damaged or not a train.py checkpoint" in err


def test_a_checkpoint_of_another_env_is_refused_at_load_naming_both_envs(tiny_run, tmp_path) -> None:
    checkpoint = tmp_path / "best_model.zip"
    checkpoint.write_bytes((tiny_run / "best_model.zip").read_bytes())
    (tmp_path / "config.yaml").write_text((tiny_run / "config.yaml").read_text().replace(VM, SOC))
    assert load_policy(str(tiny_run / "best_model.zip"), env_id=VM).env_id == VM
    with pytest.raises(PolicyFileError, match=f"best_model.zip is a policy for {SOC} .*, not for {VM}"):
        load_policy(str(checkpoint), env_id=VM)
