"""Each method's recipe is its paper's setup, and each study runs its paper's protocol (issue 11):
checked on the resolved configs that `harness run --dry-run --json` prints, at every preset."""

import math

import pytest

from harness.methods.momentum import momentum_at
from harness.methods.registry import BUILT_IN
from harness.optim import lr_schedule, peak_lr
from harness.plan import load_study
from harness.presets import PRESETS
from harness.recipes import RECIPE_KEYS
from harness.report.protocol import differences, protocol_notes
from harness.spec import flatten

from conftest import STUDIES

ALL_STUDIES = sorted(p.stem for p in STUDIES.glob("*.yaml"))


def runs(study: str, preset: str = "tiny"):
    return load_study(STUDIES / f"{study}.yaml", preset).runs


def by_variant(study: str, preset: str = "tiny") -> dict:
    return {r.variant: r.config for r in runs(study, preset)}


@pytest.mark.parametrize("method", list(BUILT_IN))
def test_every_recipe_states_every_key_at_every_preset(method):
    recipe = BUILT_IN[method].recipe
    for preset in PRESETS:
        stated = {**recipe.common, **recipe.scaled.get(preset, {})}
        assert [k for k in RECIPE_KEYS if k not in stated] == [], (method, preset)


@pytest.mark.parametrize("study", ALL_STUDIES)
def test_at_imagenet_every_study_runs_its_papers_protocol(study):
    # The recipes at `imagenet` are papers.yaml's protocols: no difference but the study's ablation.
    assert differences(load_study(STUDIES / f"{study}.yaml", "imagenet")) == []


def test_the_tiny_scale_shows_up_as_protocol_differences():
    found = {d.key: (d.ours, d.paper) for d in differences(load_study(STUDIES / "byol_tau.yaml", "tiny"))}
    assert found["data.dataset"] == (["digits"], "imagefolder")
    assert found["optim.lr_multiplier"] == ([4.0], 1.0)
    assert found["optim.epochs"] == ([60], 300)  # the table's ablation setup, not BYOL's 1000 epochs
    assert "method.tau_base" not in found  # the study's own axis


def test_protocol_notes_are_those_of_the_papers_whose_methods_a_study_trains():
    simclr = protocol_notes(load_study(STUDIES / "simclr_head_depth.yaml", "tiny"))
    assert any("sum of the two directions" in n for n in simclr)
    assert any("sample_distorted_bounding_box" in n for n in simclr)
    assert not any("clamps a box" in n for n in simclr)  # BYOL's
    assert protocol_notes(load_study(STUDIES / "simsiam_predictor.yaml", "tiny")) == []  # torchvision's own


def test_a_probe_mode_s_protocol_applies_to_its_runs_alone():
    # SimCLR v2's fine-tuning batch (1024) is compared with fine-tuning's, not with a linear probe's.
    def probe_keys(study):
        return {d.key: (d.ours, d.paper) for d in differences(load_study(STUDIES / f"{study}.yaml", "tiny"))
                if d.key.startswith("probe.")}

    assert probe_keys("simclr_finetune") == {"probe.batch_size": ([64], 1024)}
    assert probe_keys("simclr_head_depth") == {}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_byol_tau_0_is_held_at_0_all_through(preset):
    # Table 5a's footnote: tau = 0 is kept constant. On the default cosine schedule it would rise to 1.
    m = by_variant("byol_tau", preset)["tau_0"].method
    assert [momentum_at(m.tau_base, k, 100, m.tau_schedule) for k in (0, 50, 100)] == [0.0, 0.0, 0.0]
    other = by_variant("byol_tau", preset)["tau_0_99"].method
    assert other.tau_schedule == "cosine" and momentum_at(other.tau_base, 100, 100, other.tau_schedule) == 1.0


@pytest.mark.parametrize("preset", list(PRESETS))
def test_simsiam_predictor_lr_is_constant_after_table_1(preset):
    for study in ("simsiam_batch_size", "simsiam_batch_norm", "simsiam_similarity", "simsiam_symmetrization"):
        assert {r.config.predictor.lr for r in runs(study, preset)} == {"constant"}, study
    for study in ("simsiam_stopgrad",):  # Sec. 4.1 decays it
        assert {r.config.predictor.lr for r in runs(study, preset)} == {"cosine"}
    table1 = by_variant("simsiam_predictor", preset)
    assert table1["baseline_lr_cosine"].predictor.lr == "cosine"
    assert table1["predictor_constant_lr"].predictor.lr == "constant"


@pytest.mark.parametrize("preset, warmup", [("imagenet", 10), ("cifar10", 80), ("tiny", 6)])
def test_simsiam_table2_warms_up_for_batch_1024_and_more_only(preset, warmup):
    for r in runs("simsiam_batch_size", preset):
        batch = r.config.optim.batch_size
        assert r.config.optim.warmup_epochs == (warmup if batch >= 1024 else 0), batch
        assert r.config.optim.name == "sgd"


def test_byol_table16_keeps_the_update_batch_and_its_lr():
    rows = runs("byol_simclr_batch_size", "imagenet")
    assert {r.config.optim.batch_size for r in rows} == {4096}
    for r in rows:
        assert r.config.optim.accumulate_steps == 4096 // r.config.optim.micro_batch_size
    byol = [r.config for r in rows if r.variant == "byol"]
    assert {peak_lr(c.optim) for c in byol} == {0.3 * 16} and {c.method.tau_base for c in byol} == {0.99}
    simclr = [r.config for r in rows if r.variant == "simclr"]
    assert {c.projector.layers for c in simclr} == {2} and {peak_lr(c.optim) for c in simclr} == {4.8}
    tiny = runs("byol_simclr_batch_size", "tiny")
    assert {r.config.optim.batch_size for r in tiny} == {512}
    assert sorted({r.config.optim.micro_batch_size for r in tiny}) == [64, 128, 256, 512]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_mocov3_ablations_freeze_the_patch_projection_and_watch_knn_every_few_steps(preset):
    assert {r.config.backbone.vit.frozen_patch_projection for r in runs("mocov3_momentum", preset)} == {True}
    m0 = by_variant("mocov3_momentum", preset)["m_0"].method
    assert m0.momentum == 0 and m0.momentum_schedule == "constant"
    for study in ("mocov3_batch_size", "mocov3_lr", "mocov3_frozen_patch"):
        for r in runs(study, preset):
            c = r.config
            assert c.backbone.name == "vit" and c.optim.name == "adamw"
            # at least every 2 steps at tiny (< 1 epoch at every batch), every 50 at the paper's scales
            assert 0 < c.monitor.knn_every_steps <= (2 if preset == "tiny" else 50)
    # Fig. 2 and Fig. 5 keep the paper's base lrs at every preset; tiny multiplies them.
    lrs = sorted({r.config.optim.base_lr for r in runs("mocov3_lr", preset)})
    assert lrs == [0.5e-4, 1.0e-4, 1.5e-4]
    multiplier = {r.config.optim.lr_multiplier for r in runs("mocov3_lr", preset)}
    assert multiplier == ({10.0} if preset == "tiny" else {1.0})


def test_simclr_square_root_rule():
    c = runs("simclr_head_depth", "imagenet")[0].config
    assert c.optim.lr_scaling == "sqrt" and c.optim.base_lr == 0.075 and c.optim.batch_size == 4096
    assert peak_lr(c.optim) == pytest.approx(0.075 * math.sqrt(4096)) == pytest.approx(4.8)
    assert lr_schedule(c.optim, 10).max() == pytest.approx(4.8)


@pytest.mark.parametrize("method, crop, blur, solarize, jitter", [
    ("simsiam", 0.2, (0.5, 0.5), (0.0, 0.0), (0.4, 0.4, 0.4, 0.1)),
    ("byol", 0.08, (1.0, 0.1), (0.0, 0.2), (0.4, 0.4, 0.2, 0.1)),
    ("mocov3", 0.08, (1.0, 0.1), (0.0, 0.2), (0.4, 0.4, 0.2, 0.1)),
    ("simclr", 0.08, (0.5, 0.5), (0.0, 0.0), (0.8, 0.8, 0.8, 0.2)),
])  # fmt: skip
def test_each_method_has_its_papers_augmentation(tmp_path, method, crop, blur, solarize, jitter):
    study = tmp_path / "s.yaml"
    study.write_text(f"name: s\ntitle: t\nbase: {{method.name: {method}}}\n")
    a = load_study(study, "imagenet").runs[0].config.data.augment
    assert (a.crop_min_scale, a.blur_p, a.solarize_p) == (crop, blur, solarize)
    assert (a.brightness, a.contrast, a.saturation, a.hue) == jitter
    tiny = load_study(study, "tiny").runs[0].config.data.augment  # digits: no flip, no blur; solarize kept
    assert (tiny.flip, tiny.blur_p, tiny.solarize_p) == (False, (0.0, 0.0), solarize)


def test_a_study_overrides_its_recipe(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text("name: s\ntitle: t\nbase: {method.name: byol, optim.name: sgd, heads.bn: all}\n")
    c = load_study(study).runs[0].config
    assert (c.optim.name, c.heads.bn, c.optim.lr_multiplier) == ("sgd", "all", 4.0)


def test_recipe_layers_sit_between_defaults_preset_and_study():
    from harness.plan import Layer, recipe_layers, run_method

    names = [layer.where for layer in recipe_layers(run_method([Layer("variants.a", {"method.name": "byol"})]), "tiny")]
    assert names == ["recipe byol", "preset tiny", "recipe byol at tiny"]
    assert flatten(PRESETS["tiny"])["data.augment.flip"] is False


@pytest.mark.parametrize("preset", list(PRESETS))
def test_methods_compared_trains_every_method_on_the_preset_s_network_at_equal_epochs(preset):
    planned = runs("methods_compared", preset)
    assert {r.config.method.name for r in planned} == {"simsiam", "byol", "simclr", "mocov3"}
    assert len({r.config.backbone.name for r in planned}) == 1  # MoCo v3 too: its ResNet setup, not the ViT
    mocov3 = next(r.config for r in planned if r.variant == "mocov3")
    assert (mocov3.optim.name, mocov3.method.temperature, mocov3.projector.layers) == ("lars", 1.0, 2)
    epochs = {m: sorted({r.config.optim.epochs for r in planned if r.variant == m}) for m in ("simsiam", "mocov3")}
    assert epochs["simsiam"] == epochs["mocov3"] == {"tiny": [15, 30, 60], "cifar10": [100, 200, 400, 800, 1000],
                                                     "imagenet": [100, 200, 400, 800]}[preset]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_byol_optimal_predictor_solves_the_predictor_with_the_target_the_online_network(preset):
    runs_ = by_variant("byol_optimal_predictor", preset)
    optimal, no_target = runs_["optimal_predictor"], runs_["no_target"]
    assert optimal.predictor.kind == "closed_form" and no_target.predictor.kind == "mlp"
    for c in (optimal, no_target):
        assert (c.method.tau_base, c.method.tau_schedule, c.method.target_init) == (0.0, "constant", "copy")
    assert runs_["byol"].method.tau_schedule == "cosine" and runs_["byol"].predictor.kind == "mlp"
