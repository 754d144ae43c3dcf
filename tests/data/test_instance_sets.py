"""One instance-set format and seed scheme for every env (schedgym.data.instance_sets)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from schedgym.data import instance_sets
from schedgym.data.instance_sets import SEED_NAMESPACES, load, recipes, same_instances, save, set_path


@pytest.mark.parametrize(("env_key", "name"), [("vm", "small-test"), ("vm", "v1-small-test"),
                                               ("soc", "static-apps"),
                                               ("soc", "stream-light-noise0")])
def test_recipes_regenerate_the_shipped_sets_exactly(env_key, name) -> None:
    shipped = load(set_path(env_key, name), env_key)
    assert same_instances(recipes(env_key)[name].build(), shipped)


def test_every_shipped_set_has_a_recipe_and_the_seeds_of_sets_differ() -> None:
    entropies = []
    for env_key in ("vm", "soc"):
        assert set(instance_sets.set_names(env_key)) == set(recipes(env_key))
        entropies += [recipe.entropy for recipe in recipes(env_key).values()
                      if not recipe.name.endswith("-noise0.2")]  # shares its load's workloads on purpose
    assert len(set(entropies)) == len(entropies)
    assert len(set(SEED_NAMESPACES.values())) == len(SEED_NAMESPACES)


def test_both_noise_levels_of_a_load_share_their_workloads() -> None:
    soc = recipes("soc")
    clean, noisy = soc["stream-heavy-noise0"].build(), soc["stream-heavy-noise0.2"].build()
    assert clean.env_kwargs["noise"] == 0.0 and noisy.env_kwargs["noise"] == 0.2
    for a, b in zip(clean.instances, noisy.instances):
        np.testing.assert_array_equal(a.arrival, b.arrival)


@pytest.mark.parametrize(("env_key", "name"), [("vm", "small-val"), ("soc", "static-random")])
def test_save_then_load_round_trips_and_leaves_no_temporary_file(tmp_path, env_key, name) -> None:
    recipe = recipes(env_key)[name]
    built = recipe.build()
    path = tmp_path / f"{name}.npz"
    save(path, recipe, built)
    assert same_instances(load(path, env_key), built)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    with np.load(path) as archive:
        meta = json.loads(str(archive["meta"]))
    assert meta["purpose"] == recipe.purpose and meta["entropy"] == list(recipe.entropy)


def test_bad_files_are_refused_with_the_file_and_the_problem(tmp_path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="garbage.npz is not an instance set"):
        load(garbage, "vm")
    no_meta = tmp_path / "no_meta.npz"
    np.savez(no_meta, x=np.zeros(2))
    with pytest.raises(ValueError, match="no_meta.npz has no 'meta' entry"):
        load(no_meta, "vm")
    with pytest.raises(ValueError, match="holds 'soc' instances, not 'vm'"):
        load(set_path("soc", "static-apps"), "vm")
    recipe = recipes("vm")["small-test"]
    broken = tmp_path / "broken.npz"
    save(broken, recipe, recipe.build())
    with np.load(broken) as archive:
        arrays = {key: archive[key] for key in archive.files if key != "3/vm_cpu"}
    np.savez(broken, **arrays)
    with pytest.raises(ValueError, match=r"broken.npz, instance 3: .*vm_cpu"):
        load(broken, "vm")


def test_unknown_set_names_list_the_available_ones() -> None:
    with pytest.raises(KeyError, match="available: medium-test, medium-val, small-test, small-val"):
        instance_sets.load_named("vm", "nope")
