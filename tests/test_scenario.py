"""Scenario files: schema errors, extends chains, merging, --set overrides, variants.

Every user mistake must surface as one :class:`ScenarioError` whose message names the file
(or ``--set``) the bad key came from, the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import BASELINE, MINIMAL, SCENARIOS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import sim
from sim.scenario.loader import (
    ScenarioError,
    load_raw,
    load_scenario,
    load_study,
    merge,
    parse_override,
    set_path,
    validate_raw,
    variant_of,
    with_changes,
)
from sim.scenario.schema import Scenario, Study, Sweep

DIRECT_SHIFT = SCENARIOS / "direct_shift.yaml"


def error_of(path: Path | str, overrides: tuple[str, ...] = ()) -> str:
    """The ScenarioError message of loading ``path`` (fails if it loads)."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides)
    return str(caught.value)


def child_of_baseline(write_yaml, body: str, name: str = "child.yaml") -> Path:
    """A file extending the shipped baseline (absolute path) with ``body``."""
    return write_yaml(name, f"extends: {BASELINE}\n" + body)


# --------------------------------------------------------------------------- valid files


def test_minimal_file_loads_with_defaults(write_yaml, minimal_yaml):
    scenario = load_scenario(write_yaml("tiny.yaml", minimal_yaml))
    assert scenario.name == "tiny"
    assert scenario.market.buyers == 100
    assert scenario.horizon_weeks == 156  # schema default
    assert scenario.policy.coordination == "siloed"
    assert scenario.campaigns == ()


def test_scenario_is_frozen(small_scenario):
    with pytest.raises(ValidationError):
        small_scenario.seed = 3  # type: ignore[misc]


def test_a_caller_catching_value_error_gets_one_scenario_error_naming_the_mistake(tmp_path):
    """What the ValueError base is for: code that guards ``sim.run`` with ``except
    ValueError`` (the CLI's exit code 2, a notebook, the dashboard) catches a user's mistake,
    and what it catches is the loader's own one-line ScenarioError naming where the value came
    from, the key path, the bad value and what is allowed, not pydantic's multi-line
    ValidationError (also a ValueError) nor a chained traceback.
    """
    try:
        sim.run(BASELINE, overrides=["market.buyers=-1"], out=tmp_path)
    except ValueError as caught:
        error = caught
    else:
        pytest.fail("a negative buyer count was accepted")
    assert type(error) is ScenarioError
    assert not isinstance(error, ValidationError)
    message = str(error)
    assert "\n" not in message
    assert message.startswith("--set: market.buyers:")
    assert "(got -1)" in message and "greater than or equal to 1" in message
    assert error.__cause__ is None and error.__suppress_context__


# --------------------------------------------------------------------------- schema errors


def test_unknown_key_lists_allowed_keys(write_yaml):
    path = child_of_baseline(write_yaml, "market:\n  colour: red\n")
    message = error_of(path)
    assert str(path) in message
    assert "market.colour" in message
    assert "unknown key" in message
    for allowed in ("buyers", "segments", "base_churn_annual", "ecommerce_adoption"):
        assert allowed in message


@pytest.mark.parametrize(
    ("body", "nearest"),
    [
        ("market:\n  buyer: 300\n", "market.buyers"),
        ("policy:\n  coordinaton: orchestrated\n", "policy.coordination"),
        ("horizon: 52\n", "horizon_weeks"),
        ("reps:\n  field:\n    comission_rate: 0.1\n", "reps.field.commission_rate"),
    ],
)
def test_a_typo_gets_the_nearest_valid_key(write_yaml, body, nearest):
    message = error_of(child_of_baseline(write_yaml, body))
    assert f"did you mean {nearest!r}?" in message, message
    assert "allowed keys here" in message


def test_an_unknown_key_far_from_any_offers_no_guess(write_yaml):
    message = error_of(child_of_baseline(write_yaml, "market:\n  colour: red\n"))
    assert "did you mean" not in message and "allowed keys here" in message


def test_unknown_top_level_key(write_yaml):
    path = child_of_baseline(write_yaml, "horizon: 52\n")
    message = error_of(path)
    assert str(path) in message and "horizon" in message
    assert "horizon_weeks" in message  # the allowed spelling is offered


def test_unknown_key_in_a_list_item(write_yaml):
    path = child_of_baseline(
        write_yaml,
        "policy:\n  channel_plan:\n"
        "    - {product: pumps, segment: mid_market, from: distributor, to: ecommerce,\n"
        "       start_week: 3, speed: 2}\n",
    )
    message = error_of(path)
    assert str(path) in message
    assert "policy.channel_plan.0.speed" in message
    assert "ramp_weeks" in message and "from" in message


def test_wrong_type(write_yaml):
    path = child_of_baseline(write_yaml, "market:\n  buyers: lots\n")
    message = error_of(path)
    assert str(path) in message
    assert "market.buyers" in message
    assert "'lots'" in message
    assert "integer" in message


def test_wrong_type_list_for_mapping(write_yaml):
    path = child_of_baseline(write_yaml, "distributors: [1, 2]\n")
    message = error_of(path)
    assert str(path) in message and "distributors" in message and "[1, 2]" in message


@pytest.mark.parametrize(
    ("body", "key", "bad", "allowed"),
    [
        ("market:\n  base_churn_annual: 1.5\n", "market.base_churn_annual", "1.5", "less than 1"),
        ("market:\n  buyers: 0\n", "market.buyers", "0", "greater than or equal to 1"),
        ("horizon_weeks: -4\n", "horizon_weeks", "-4", "greater than or equal to 1"),
        (
            "policy:\n  orchestration_coverage: 1.2\n",
            "policy.orchestration_coverage",
            "1.2",
            "less than or equal to 1",
        ),
        ("policy:\n  coordination: chaotic\n", "policy.coordination", "chaotic", "orchestrated"),
        (
            "channels:\n  ecommerce: {price_realisation: 0}\n",
            "channels.ecommerce.price_realisation",
            "0",
            "greater than 0",
        ),
    ],
)
def test_out_of_range_value(write_yaml, body, key, bad, allowed):
    path = child_of_baseline(write_yaml, body)
    message = error_of(path)
    assert str(path) in message
    assert f"{key}:" in message
    assert bad in message
    assert allowed in message


def test_segment_shares_must_sum_to_one(write_yaml):
    text = MINIMAL.replace("share: 1.0", "share: 0.7")
    path = write_yaml("shares.yaml", text)
    message = error_of(path)
    assert str(path) in message
    assert "market" in message and "segment shares" in message
    assert "sum to 1" in message and "0.7" in message


def test_product_mix_must_sum_to_one(write_yaml):
    path = child_of_baseline(
        write_yaml,
        "market:\n  segments:\n"
        "    - name: only\n      share: 1.0\n      spend_annual: 5000\n"
        "      orders_per_year: 4\n      product_mix: {pumps: 0.5, valves: 0.2}\n",
    )
    message = error_of(path)
    assert str(path) in message
    assert "market.segments.0" in message and "product_mix" in message
    assert "sum to 1" in message and "0.7" in message


def test_product_mix_names_must_be_products(write_yaml):
    text = MINIMAL.replace("{widget: 1.0}", "{gadget: 1.0}")
    message = error_of(write_yaml("mix.yaml", text))
    assert "market.segments.0.product_mix" in message
    assert "'gadget'" in message and "widget" in message


@pytest.mark.parametrize(
    ("row", "field", "bad", "allowed"),
    [
        ("product: gizmo, segment: mid_market", "product", "'gizmo'", "consumables"),
        ("product: pumps, segment: nobody", "segment", "'nobody'", "small_business"),
    ],
)
def test_channel_plan_names_must_exist(write_yaml, row, field, bad, allowed):
    # The child sets no top-level ``name``: the error must still point at the child file.
    path = child_of_baseline(
        write_yaml,
        "policy:\n  channel_plan:\n"
        f"    - {{{row}, from: distributor, to: ecommerce, start_week: 1}}\n",
    )
    message = error_of(path)
    assert str(path) in message, message
    assert str(BASELINE) not in message
    assert f"policy.channel_plan.0.{field}" in message
    assert bad in message and allowed in message


@pytest.mark.parametrize("how", ["file", "--set"])
def test_redefining_products_blames_the_file_that_redefined_them(write_yaml, how):
    # the baseline's segments buy valves; a child's own products list leaves them out
    products = "[{name: pumps, list_price: 1200, unit_cost: 720}]"
    if how == "file":
        path = child_of_baseline(write_yaml, f"products: {products}\n")
        message, blamed = error_of(path), str(path)
    else:
        message, blamed = error_of(BASELINE, (f"products={products}",)), "--set"
    assert message.startswith(f"{blamed}: products: has no 'valves'"), message
    assert "market.segments.0.product_mix" in message and f"(set in {BASELINE})" in message
    assert "['pumps']" in message


def test_channel_plan_from_equals_to(write_yaml):
    path = child_of_baseline(
        write_yaml,
        "policy:\n  channel_plan:\n"
        "    - {product: pumps, segment: mid_market, from: inside, to: inside, start_week: 1}\n",
    )
    message = error_of(path)
    assert "policy.channel_plan.0" in message and "'inside'" in message


def test_several_errors_are_all_reported(write_yaml):
    path = child_of_baseline(write_yaml, "seed: -1\nmarket:\n  buyers: 0\n")
    message = error_of(path)
    assert "seed" in message and "market.buyers" in message


# --------------------------------------------------------------------------- files and YAML


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    message = error_of(missing)
    assert str(missing) in message and "not found" in message


def test_not_yaml(write_yaml):
    path = write_yaml("broken.yaml", "name: [unclosed\n")
    message = error_of(path)
    assert str(path) in message and "not valid YAML" in message


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("name: x\nmarket:\n  buyers: 2\n   prospects: 1\n", "line 4, column 13", "mapping values"),
        ("name: x\nmarket: {buyers: 3\n", "line 3, column 1", "began at line 2, column 9"),
        ("name: x\n\tseed: 3\n", "line 2, column 1", "not tabs"),
    ],
    ids=["indent", "unclosed", "tab"],
)
def test_a_yaml_syntax_error_is_one_line_naming_file_line_and_column(
    write_yaml, text, where, problem
):
    path = write_yaml("broken.yaml", text)
    message = error_of(path)
    assert message.startswith(f"{path}: {where}: not valid YAML: "), message
    assert problem in message and "\n" not in message and "unicode string" not in message


def test_a_yaml_error_in_a_set_value_is_one_line():
    message = error_of(BASELINE, ("seed=[1",))
    assert message.startswith("--set 'seed=[1': the value is not valid YAML: ")
    assert "\n" not in message and "unicode string" not in message


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just text\n", "42\n"])
def test_top_level_must_be_a_mapping(write_yaml, text):
    path = write_yaml("odd.yaml", text)
    message = error_of(path)
    assert str(path) in message and "mapping" in message


def test_non_text_keys(write_yaml):
    path = write_yaml("keys.yaml", MINIMAL + "1: one\n")
    message = error_of(path)
    assert str(path) in message and "keys must be text" in message


# --------------------------------------------------------------------------- extends


def test_extends_missing_parent(write_yaml):
    path = write_yaml("child.yaml", "extends: nowhere.yaml\nname: child\n")
    message = error_of(path)
    assert str(path) in message
    assert "extends" in message and "nowhere.yaml" in message and "not found" in message


def test_extends_cycle(write_yaml):
    a = write_yaml("a.yaml", "extends: b.yaml\nname: a\n")
    b = write_yaml("b.yaml", "extends: a.yaml\nname: b\n")
    message = error_of(a)
    assert "cycle" in message
    assert f"{a} -> {b} -> {a}" in message


def test_extends_self(write_yaml):
    a = write_yaml("self.yaml", "extends: self.yaml\nname: a\n")
    assert "cycle" in error_of(a)


@pytest.mark.parametrize("bad", ["5", "''", "[a.yaml]", "{file: a.yaml}"])
def test_extends_not_a_path(write_yaml, bad):
    path = write_yaml("child.yaml", f"extends: {bad}\nname: child\n")
    message = error_of(path)
    assert str(path) in message and "extends" in message


def test_extends_relative_to_the_file_not_the_cwd(write_yaml, minimal_yaml, tmp_path, monkeypatch):
    write_yaml("lib/parent.yaml", minimal_yaml)
    write_yaml("lib/cases/child.yaml", "extends: ../parent.yaml\nname: child\n")
    grandchild = write_yaml(
        "other/deep/grandchild.yaml",
        "extends: ../../lib/cases/child.yaml\nname: grandchild\nseed: 5\n",
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = load_scenario(Path("..") / "other" / "deep" / "grandchild.yaml")
    assert scenario.name == "grandchild"
    assert scenario.seed == 5
    assert scenario.products[0].name == "widget"  # from the parent two levels up
    assert grandchild.is_file()


def test_extends_absolute_path(write_yaml, minimal_yaml, tmp_path):
    parent = write_yaml("far/away/parent.yaml", minimal_yaml)
    child = write_yaml("here/child.yaml", f"extends: {parent.resolve()}\nname: child\n")
    assert load_scenario(child).market.buyers == 100


def test_shipped_scenarios_extend_baseline():
    direct = load_scenario(DIRECT_SHIFT)
    base = load_scenario(BASELINE)
    assert direct.name == "direct_shift"
    assert direct.market == base.market
    assert len(direct.policy.channel_plan) == 3


# --------------------------------------------------------------------------- merging


PARENT_WITH_CAMPAIGN = (
    MINIMAL
    + """\
campaigns:
  - {name: spring, reach: 0.2}
  - {name: autumn, reach: 0.3}
policy:
  coordination: orchestrated
  orchestration_coverage: 0.5
  trade_promotions:
    - {product: widget, discount: 0.1, start_week: 3, weeks: 2}
"""
)


def test_mappings_merge_key_by_key(write_yaml):
    write_yaml("parent.yaml", PARENT_WITH_CAMPAIGN)
    child = write_yaml(
        "child.yaml",
        "extends: parent.yaml\nmarket:\n  base_churn_annual: 0.3\n"
        "policy:\n  deal_registration: true\n",
    )
    scenario = load_scenario(child)
    assert scenario.market.base_churn_annual == 0.3
    assert scenario.market.buyers == 100  # kept from the parent
    assert scenario.market.segments[0].name == "smb"
    assert scenario.policy.deal_registration is True
    assert scenario.policy.coordination == "orchestrated"  # sibling key kept
    assert scenario.policy.orchestration_coverage == 0.5
    assert len(scenario.policy.trade_promotions) == 1


def test_lists_replace(write_yaml):
    write_yaml("parent.yaml", PARENT_WITH_CAMPAIGN)
    child = write_yaml(
        "child.yaml", "extends: parent.yaml\ncampaigns:\n  - {name: winter, reach: 0.9}\n"
    )
    campaigns = load_scenario(child).campaigns
    assert [c.name for c in campaigns] == ["winter"]
    assert campaigns[0].reach == 0.9


def test_empty_list_clears(write_yaml):
    write_yaml("parent.yaml", PARENT_WITH_CAMPAIGN)
    child = write_yaml(
        "child.yaml", "extends: parent.yaml\ncampaigns: []\npolicy:\n  trade_promotions: []\n"
    )
    scenario = load_scenario(child)
    assert scenario.campaigns == ()
    assert scenario.policy.trade_promotions == ()
    assert scenario.policy.coordination == "orchestrated"


def test_merge_function_rules():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2}
    assert merge(base, {"a": {"y": [9]}}) == {"a": {"x": 1, "y": [9]}, "b": 2}
    assert merge(base, {"a": 5}) == {"a": 5, "b": 2}
    assert merge(base, {"c": {"z": 1}}) == {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"z": 1}}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 2}  # inputs untouched


# --------------------------------------------------------------------------- --set


def test_set_reads_values_as_yaml():
    scenario = load_scenario(
        BASELINE,
        [
            "seed=7",
            "policy.deal_registration=true",
            "market.base_churn_annual=0.25",
            "market.segments.0.channels=[field, inside]",
            "policy.coordination=orchestrated",
        ],
    )
    assert scenario.seed == 7
    assert scenario.policy.deal_registration is True
    assert scenario.market.base_churn_annual == 0.25
    assert scenario.market.segments[0].channels == ("field", "inside")
    assert scenario.policy.coordination == "orchestrated"


def test_set_later_wins():
    assert load_scenario(BASELINE, ["seed=1", "seed=2"]).seed == 2


def test_set_list_item():
    scenario = load_scenario(DIRECT_SHIFT, ["policy.channel_plan.0.ramp_weeks=4"])
    plan = scenario.policy.channel_plan
    assert plan[0].ramp_weeks == 4
    assert [row.ramp_weeks for row in plan[1:]] == [26, 26]  # siblings untouched
    assert plan[0].product == "consumables"  # rest of the item kept


def test_set_list_item_by_alias():
    scenario = load_scenario(DIRECT_SHIFT, ["policy.channel_plan.2.from=field"])
    assert scenario.policy.channel_plan[2].from_ == "field"


def test_set_clears_list():
    cleared = load_scenario(DIRECT_SHIFT, ["policy.channel_plan=[]", "variants={}"])
    assert cleared.policy.channel_plan == ()


def test_set_clearing_a_list_breaks_variants_that_index_it():
    message = error_of(DIRECT_SHIFT, ("policy.channel_plan=[]",))
    assert "variants.fast" in message and "policy.channel_plan.0" in message
    assert "the list is empty" in message


@pytest.mark.parametrize("index", ["3", "x", "-1"])
def test_set_list_index_out_of_range(index):
    message = error_of(DIRECT_SHIFT, (f"policy.channel_plan.{index}.ramp_weeks=4",))
    assert "--set" in message
    assert f"policy.channel_plan.{index}" in message
    assert "0..2" in message


@pytest.mark.parametrize("text", ["noequals", "=3", "  =3", "a..b=3", ".a=1", "a.=1"])
def test_set_bad_syntax(text):
    message = error_of(BASELINE, (text,))
    assert repr(text.split("=")[0].strip()) in message or repr(text) in message
    assert "key" in message


def test_set_value_not_yaml():
    message = error_of(BASELINE, ("seed=[unclosed",))
    assert "--set" in message and "'seed=[unclosed'" in message and "YAML" in message


def test_set_unknown_key_names_set():
    message = error_of(BASELINE, ("market.colour=red",))
    assert message.startswith("--set")
    assert "market.colour" in message and "buyers" in message


def test_set_bad_value_names_set():
    message = error_of(BASELINE, ("market.buyers=-5",))
    assert message.startswith("--set: market.buyers")
    assert "-5" in message


def test_set_through_a_scalar():
    message = error_of(BASELINE, ("seed.x=4",))
    assert "--set" in message and "seed" in message and "not a mapping" in message


def test_parse_override():
    assert parse_override("a.b=1") == (("a", "b"), 1)
    assert parse_override("a=[1, 2]") == (("a",), [1, 2])
    assert parse_override("a=x=y") == (("a",), "x=y")
    assert parse_override("a=") == (("a",), None)


def test_load_raw_records_origins(write_yaml):
    child = child_of_baseline(write_yaml, "seed: 3\n")
    raw, origins = load_raw(child, ["horizon_weeks=9"])
    assert raw["seed"] == 3 and raw["horizon_weeks"] == 9
    assert origins[("seed",)] == str(child.resolve())
    assert origins[("market", "buyers")] == str(BASELINE.resolve())
    assert origins[("horizon_weeks",)] == "--set"


# --------------------------------------------------------------------------- variants


def test_variants_apply_key_paths():
    study = load_study(DIRECT_SHIFT)
    scenario = study.scenario
    fast = variant_of(scenario, "fast", study.variants["fast"])
    assert [r.ramp_weeks for r in fast.policy.channel_plan] == [4, 4, 4]
    assert type(fast) is Scenario  # a variant has no study design of its own
    assert [r.ramp_weeks for r in scenario.policy.channel_plan] == [26, 26, 26]  # unchanged
    fee = variant_of(scenario, "referral_fee", study.variants["referral_fee"])
    assert fee.policy.distributor_referral_fee == 0.05
    assert fee.policy.channel_plan == scenario.policy.channel_plan


def test_variant_can_replace_a_list():
    scenario = load_scenario(DIRECT_SHIFT)
    cleared = variant_of(scenario, "none", {"policy.channel_plan": []})
    assert cleared.policy.channel_plan == ()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("market.buyers: -3", ["market.buyers", "-3", "greater than or equal to 1"]),
        ("market.nonsense: 3", ["market.nonsense", "unknown key", "buyers"]),
        ("policy.channel_plan.0.share: 1", ["policy.channel_plan.0", "not a list index"]),
    ],
)
def test_invalid_variant_fails_at_load(write_yaml, change, expected):
    path = child_of_baseline(write_yaml, f"variants:\n  bad:\n    {change}\n")
    message = error_of(path)
    assert "'bad'" in message or "variants.bad" in message
    for part in expected:
        assert part in message
    assert str(BASELINE) not in message  # the mistake is in the child, not the baseline


def test_invalid_variant_names_its_file(write_yaml):
    path = child_of_baseline(write_yaml, "variants:\n  bad:\n    market.buyers: -3\n")
    assert str(path) in error_of(path)


def test_variants_must_be_mappings(write_yaml):
    path = child_of_baseline(write_yaml, "variants:\n  bad: 3\n")
    message = error_of(path)
    assert "variants.bad" in message and str(path) in message


def test_a_variant_cannot_change_the_study_design(write_yaml):
    path = child_of_baseline(write_yaml, "variants:\n  bad:\n    sweep.samples: 3\n")
    message = error_of(path)
    assert "variant 'bad'" in message and "sweep: unknown key" in message
    assert "'policy'" in message and "'variants'" not in message  # a scenario's keys only


# --------------------------------------------------------------------------- the study design


def test_a_file_holds_the_scenario_and_beside_it_the_study_design():
    study = load_study(DIRECT_SHIFT)
    assert study.scenario == load_scenario(DIRECT_SHIFT)
    assert set(study.variants) == {
        "status_quo",
        "fast",
        "slow",
        "referral_fee",
        "deal_registration",
    }
    assert study.sweep is not None and study.optimize is not None
    assert study.uncertainties is not None and study.uncertainties.worlds == 16
    assert set(Study.design_keys()).isdisjoint(Scenario.model_fields)


def test_an_unknown_top_level_key_lists_the_scenario_and_design_keys(write_yaml):
    path = child_of_baseline(write_yaml, "variant:\n  fast: {seed: 1}\n")
    message = error_of(path)
    assert f"{path}: variant: unknown key; did you mean 'variants'? allowed keys here:" in message
    for key in ("'name'", "'policy'", "'variants'", "'sweep'", "'optimize'", "'uncertainties'"):
        assert key in message
    assert "'scenario'" not in message  # not a key of the file


def test_design_errors_name_the_file_and_key_path(write_yaml):
    path = child_of_baseline(write_yaml, "sweep:\n  parameters: {seed: [5, 1]}\n")
    message = error_of(path)
    assert message.startswith(f"{path}: sweep.parameters.seed: low 5 must be below high 1")


# --------------------------------------------------------------------------- a plain value

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_equal_scenarios_hash_equal(path):
    first, second = load_scenario(path), load_scenario(path)
    assert first is not second and first == second
    assert hash(first) == hash(second) == hash(first)
    assert len({first, second}) == 1
    same = with_changes(first, {"seed": first.seed}, source="test")  # a no-op edit
    assert same == first and hash(same) == hash(first)


def test_different_scenarios_differ():
    study = load_study(DIRECT_SHIFT)
    scenario = study.scenario
    variants = [variant_of(scenario, name, c) for name, c in study.variants.items()]
    assert len({scenario, *variants}) == 1 + len(variants)


def test_equal_mappings_hash_equal_whatever_their_order(write_yaml):
    mixes = ["{pumps: 0.5, valves: 0.5}", "{valves: 0.5, pumps: 0.5}"]
    scenarios = [load_scenario(BASELINE, [f"market.segments.0.product_mix={mix}"]) for mix in mixes]
    assert scenarios[0] == scenarios[1] and hash(scenarios[0]) == hash(scenarios[1])


def _mutations(study: Study):
    scenario = study.scenario
    segment = scenario.market.segments[0]
    sweep = study.sweep
    return {
        "append a product": lambda: scenario.products.append(scenario.products[0]),
        "replace a segment": lambda: scenario.market.segments.__setitem__(0, segment),
        "set a mix share": lambda: segment.product_mix.__setitem__("pumps", 1.0),
        "delete a mix share": lambda: segment.product_mix.__delitem__("pumps"),
        "clear the mix": lambda: segment.product_mix.clear(),
        "add a channel": lambda: segment.channels.append("field"),
        "add a variant": lambda: study.variants.__setitem__("x", {}),
        "edit a variant": lambda: study.variants["fast"].update({"seed": 1}),
        "edit a variant's list": lambda: study.variants["fast"].__setitem__("seed", 1),
        "replace the scenario": lambda: setattr(study, "scenario", scenario),
        "widen a sweep bound": lambda: sweep.parameters.__setitem__("seed", (0, 1)),
        "add a sweep output": lambda: sweep.outputs.append("revenue"),
        "extend the plan": lambda: scenario.policy.channel_plan.append(None),
        "assign a field": lambda: setattr(scenario.policy, "channel_plan", ()),
        "assign a nested field": lambda: setattr(segment, "share", 0.5),
    }


@pytest.mark.parametrize("what", list(_mutations(load_study(DIRECT_SHIFT))))
def test_mutation_attempts_raise(what):
    study = load_study(DIRECT_SHIFT)
    before = study.model_dump(mode="json", by_alias=True)
    with pytest.raises((TypeError, AttributeError, ValidationError)):
        _mutations(study)[what]()
    assert study.model_dump(mode="json", by_alias=True) == before


def test_variant_values_are_frozen_deeply():
    study = load_study(SCENARIOS / "distributor_digital.yaml")
    plan = study.variants["direct_ecommerce"]["policy.channel_plan"]
    assert isinstance(plan, tuple)
    with pytest.raises(TypeError):
        plan[0]["share"] = 1.0  # type: ignore[index]
    hash(study)


def test_dump_is_the_plain_yaml_tree():
    study = load_study(DIRECT_SHIFT)
    dumped = study.model_dump(by_alias=True)  # the file's keys, the design's beside the scenario's
    assert isinstance(dumped["products"], list) and isinstance(dumped["variants"], dict)
    assert isinstance(dumped["market"]["segments"][0]["product_mix"], dict)
    assert isinstance(dumped["sweep"]["parameters"], dict)
    assert "scenario" not in dumped
    text = yaml.safe_dump(dumped)  # plain lists and dicts only
    assert Study.model_validate(yaml.safe_load(text)) == study
    assert study.model_dump(mode="json", by_alias=True) == yaml.safe_load(text)
    plain = study.scenario.model_dump(mode="json", by_alias=True)
    assert Scenario.model_validate(plain) == study.scenario


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_scenario_and_study_pickle_to_equal_values(path):
    study = load_study(path)
    for value in (study, study.scenario):
        copy = pickle.loads(pickle.dumps(value))
        assert copy == value and hash(copy) == hash(value)


def test_mapping_reads_like_a_dict():
    scenario = load_scenario(DIRECT_SHIFT)
    mix = scenario.market.segments[0].product_mix
    assert mix == {"pumps": 0.6, "valves": 0.3, "consumables": 0.1}
    assert list(mix) == ["pumps", "valves", "consumables"] and len(mix) == 3
    assert mix["valves"] == 0.3 and mix.get("gadgets", 0.0) == 0.0 and "pumps" in mix
    assert dict(mix.items()) == {**mix}
    sweep = load_study(DIRECT_SHIFT).sweep
    assert sweep is not None
    assert sweep.parameters["distributors.alternative_margin"] == (0.21, 0.36)


def test_sweep_block_accepts_a_dict():
    block = Sweep(parameters={"seed": (0, 1)}, outputs=["revenue"])
    assert block.parameters == {"seed": (0.0, 1.0)} and block.outputs == ("revenue",)
    hash(block)


# --------------------------------------------------------------------------- with_changes


def test_with_changes_applies_key_paths_and_keeps_the_original():
    study = load_study(DIRECT_SHIFT)
    changed = with_changes(
        study,
        {"replications": 5, "market.buyers": 100, "policy.channel_plan.1.share": 0.25},
        source="test",
    )
    scenario, new = study.scenario, changed.scenario
    assert (new.replications, new.market.buyers) == (5, 100)
    assert [row.share for row in new.policy.channel_plan] == [0.6, 0.25, 0.5]
    assert changed.variants == study.variants and changed.sweep == study.sweep
    assert scenario.replications == 10 and scenario.market.buyers == 20_000
    assert scenario.policy.channel_plan[1].share == 0.6
    alone = with_changes(scenario, {"replications": 5}, source="test")  # a scenario alone
    assert type(alone) is Scenario and alone.replications == 5


def test_with_changes_accepts_blocks_and_lists():
    study = load_study(BASELINE)
    block = Sweep(parameters={"seed": (0, 9)})
    changed = with_changes(
        study,
        {"sweep": block, "campaigns": [{"name": "spring", "reach": 0.2}]},
        source="test",
    )
    assert changed.sweep == block and changed.scenario.campaigns[0].reach == 0.2


def test_a_scenario_has_no_study_design_to_change():
    with pytest.raises(ScenarioError, match="--opt: sweep: unknown key"):
        with_changes(load_scenario(BASELINE), {"sweep.samples": 3}, source="--opt")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"replications": 0}, ["--opt: replications:", "(got 0)", "greater than or equal to 1"]),
        ({"market.buyers": "many"}, ["--opt: market.buyers:", "'many'", "integer"]),
        (
            {"policy.coordination": "chaotic"},
            ["--opt: policy.coordination:", "'chaotic'", "'siloed' or 'orchestrated'"],
        ),
        ({"market.colour": 1}, ["--opt: market.colour: unknown key", "base_churn_annual"]),
        (
            {"policy.channel_plan.7.share": 1},
            ["--opt: policy.channel_plan.7:", "'7' is not a list index", "0..2"],
        ),
        (
            {"market.segments.0.product_mix.pumps": 0.9},
            ["market.segments.0: product_mix", "sum to 1", "(they sum to 1.3)"],
        ),
        ({"policy.channel_plan": []}, ["variants.fast", "the list is empty"]),
        ({"market..buyers": 1}, ["'market..buyers'", "empty part"]),
    ],
)
def test_with_changes_errors_name_source_key_value_and_allowed(changes, expected):
    with pytest.raises(ScenarioError) as caught:
        with_changes(load_study(DIRECT_SHIFT), changes, source="--opt")
    for part in expected:
        assert part in str(caught.value)


def test_variant_errors_name_the_variant():
    with pytest.raises(ScenarioError) as caught:
        variant_of(load_scenario(BASELINE), "tiny", {"market.buyers": 0})
    message = str(caught.value)
    assert message.startswith("variant 'tiny': variants.tiny: market.buyers:")
    assert "(got 0)" in message


# --------------------------------------------------------------------------- renamed keys


def test_old_key_in_a_file_names_the_new_one(write_yaml):
    path = child_of_baseline(write_yaml, "reps:\n  field:\n    min_account_spend: 5000\n")
    message = error_of(path)
    assert str(path) in message
    assert "reps.field.min_account_spend: renamed to 'min_account_spend_annual'" in message
    assert "write reps.field.min_account_spend_annual instead" in message


@pytest.mark.parametrize("source", ["--set", "variant"])
def test_old_key_in_overrides_names_the_new_one(write_yaml, source):
    if source == "--set":
        message = error_of(BASELINE, ("reps.inside.min_account_spend=0",))
    else:
        body = "variants:\n  old:\n    reps.inside.min_account_spend: 0\n"
        message = error_of(child_of_baseline(write_yaml, body))
    assert "renamed to 'min_account_spend_annual'" in message
    assert "reps.inside.min_account_spend_annual" in message


def test_renamed_key_keeps_its_value():
    scenario = load_scenario(BASELINE, ["reps.field.min_account_spend_annual=75000"])
    assert scenario.reps.field.min_account_spend_annual == 75_000


# --------------------------------------------------------------------------- defaults

IDENTITY = {"description"}
"""Keys baseline.yaml sets that describe the file, not a parameter with a default."""

REQUIRED = object()


def _set_in_baseline(block: BaseModel, data: dict, default: BaseModel | None, path=()):
    """Yield (key path, baseline value, schema default or REQUIRED) for each key set.

    ``default`` is the block's own default (a nested block may default to an instance with
    values of its own, e.g. ``reps.field``); lists are compared whole (their items are data).
    """
    for key, value in data.items():
        field = type(block).model_fields[key]
        if default is not None:
            expected = getattr(default, key)
        elif field.is_required():
            expected = REQUIRED
        else:
            expected = field.get_default(call_default_factory=True)
        actual = getattr(block, key)
        if isinstance(value, dict) and isinstance(actual, BaseModel):
            inner = None if expected is REQUIRED else expected
            yield from _set_in_baseline(actual, value, inner, (*path, key))
        else:
            yield ".".join((*path, key)), actual, expected


def test_schema_defaults_equal_baseline_values():
    data = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    walked = list(_set_in_baseline(load_scenario(BASELINE), data, None))
    assert len(walked) == _leaves(data)  # every key the baseline sets is walked
    differ = [
        (key, value, default)
        for key, value, default in walked
        if default is not REQUIRED and key not in IDENTITY and value != default
    ]
    assert differ == []
    required = sorted(key for key, _, default in walked if default is REQUIRED)
    assert required == ["market.segments", "name", "products"]


def _leaves(data: dict) -> int:
    return sum(_leaves(v) if isinstance(v, dict) else 1 for v in data.values())


def test_every_defaulted_parameter_is_described():
    """Every parameter with a default has a description (unit and source or "assumption")."""
    undocumented = []
    for block in _blocks(Study):
        for name, field in block.model_fields.items():
            has_default = not field.is_required()
            if has_default and not field.description and not _is_plain_switch(field):
                undocumented.append(f"{block.__name__}.{name}")
    assert undocumented == []


def _blocks(model: type[BaseModel], seen: tuple = ()) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in (*seen, *found):
                found += [b for b in _blocks(arg, (*seen, *found)) if b not in found]
    return found


def _is_plain_switch(field) -> bool:
    """Blocks, enumerations, booleans and the per-channel constants need no unit."""
    annotation = field.annotation
    return (
        (isinstance(annotation, type) and issubclass(annotation, BaseModel))
        or getattr(annotation, "__origin__", None) is not None
        or annotation in (bool, str)
        or str(annotation).startswith(("typing.Literal", "sim.scenario.schema.Sweep"))
        or (field.default == 0.0 and annotation is float)
    )


# --------------------------------------------------------------------------- fuzzing

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), children, max_size=4),
    ),
    max_leaves=20,
)
_KEYS = [
    "name",
    "seed",
    "horizon_weeks",
    "replications",
    "extends",
    "market",
    "market.buyers",
    "market.segments",
    "market.segments.0",
    "market.segments.0.share",
    "market.segments.0.product_mix",
    "market.segments.1.product_mix.pumps",
    "market.ecommerce_adoption.p",
    "products",
    "products.0",
    "products.2.list_price",
    "products.9.name",
    "channels.field",
    "reps.field.count",
    "distributors",
    "campaigns",
    "campaigns.0",
    "policy.channel_plan",
    "policy.channel_plan.0",
    "policy.channel_plan.0.from",
    "policy.trade_promotions",
    "variants",
    "variants.v",
    "variants.v.market.buyers",
    "sweep",
    "sweep.parameters",
]
_OVERRIDES = st.one_of(
    st.builds(
        lambda key, value: f"{key}={value}",
        st.one_of(st.sampled_from(_KEYS), st.text(max_size=15)),
        st.one_of(
            _TREES.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()),
            st.text(max_size=20),
        ),
    ),
    st.text(max_size=25),
)
_FIXED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _load_or_scenario_error(path: Path, overrides: list[str]) -> None:
    try:
        scenario = load_scenario(path, overrides)
    except ScenarioError as exc:
        assert str(exc).strip(), "empty error message"
        assert "Traceback" not in str(exc)
    else:
        assert isinstance(scenario, Scenario)


@_FIXED
@given(text=st.text(max_size=300))
@example(text="market: {segments: [")
@example(text="name: x\n\tmarket: 1")
@example(text="a: &x [*x]\n")
@example(text="a: &x {b: *x}\n")
@example(text="name: n\nmarket: &m {segments: [*m]}\n")
@example(text="!!python/object:os.system {}\n")
@example(text="name: x\nmarket: {buyers: 1e400}\n")
@example(text="extends: /\n")
@example(text="extends: .\n")
def test_fuzz_random_text(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8")
        _load_or_scenario_error(path, [])


@_FIXED
@given(tree=_TREES, overrides=st.lists(_OVERRIDES, max_size=3))
def test_fuzz_random_yaml_trees(tree, overrides):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(yaml.safe_dump(tree), encoding="utf-8")
        _load_or_scenario_error(path, overrides)


@_FIXED
@given(overrides=st.lists(_OVERRIDES, min_size=1, max_size=4))
@example(overrides=["variants.v={'': 1}"])
@example(overrides=["market=&x {b: *x}"])
@example(overrides=["campaigns=&x [*x]"])
@example(overrides=["variants.v={market..buyers: 1}"])
@example(overrides=["variants.v.policy.channel_plan.5.share=1"])
@example(overrides=["market.segments.0=[]"])
@example(overrides=["products.0.name=valves"])
@example(overrides=["market.segments=[]"])
@example(overrides=["sweep={parameters: {seed: [2, 1]}}"])
@example(overrides=["market.choice.competitor_utility=.nan"])
def test_fuzz_overrides_on_shipped_scenario(overrides):
    _load_or_scenario_error(DIRECT_SHIFT, overrides)


@_FIXED
@given(
    path=st.sampled_from(_KEYS),
    value=_TREES,
)
def test_fuzz_validate_raw_after_set(path, value):
    raw, origins = load_raw(BASELINE)
    try:
        set_path(raw, tuple(path.split(".")), value, source="fuzz")
        validate_raw(raw, origins)
    except ScenarioError:
        pass
