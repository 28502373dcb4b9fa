"""SFT, DPO and HARC + DPO: the TRL-trained methods."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file

from harc.errors import HarcError
from harc.methods import MethodOutput, get_method, method_config
from harc.methods.sft import sft_examples, tokenized_rows
from harc.positions import ChatFormat
from tests.methods.helpers import LORA, same_state, state_copy, tiny_data, tiny_loaded
from tests.tiny import tiny_model

pytest.importorskip("trl")

SMALL = {"lora": LORA, "lr": 1e-3, "max_steps": 2, "batch_size": 2, "grad_accum": 1}


def _log(output: MethodOutput) -> list[dict]:
    return [json.loads(line) for line in output.log_path.read_text().splitlines()]


def _check_restored(loaded, before) -> None:
    assert same_state(loaded.model, before)
    assert not loaded.model.training and loaded.model.config.use_cache is True
    assert not any("lora" in name for name, _ in loaded.model.named_modules())
    # A forward left on the instance by the trainer would make deep copies run these weights.
    assert "forward" not in vars(loaded.model)


def test_sft_rows_train_on_the_answer_only_with_eos_after_refusals():
    loaded = tiny_loaded()
    chat = ChatFormat(loaded.tokenizer)
    examples = sft_examples(tiny_data(), method_config("sft"))
    assert len(examples) == 4 + 4 + 2
    rows = tokenized_rows(chat, examples)
    tokenizer = loaded.tokenizer
    for (prompt, answer, eos), row in zip(examples, rows, strict=True):
        pairs = list(zip(row["input_ids"], row["completion_mask"], strict=True))
        answer_ids = [i for i, m in pairs if m]
        prompt_ids = [i for i, m in pairs if not m]
        assert prompt_ids == chat.encode(prompt).input_ids
        assert (answer_ids[-1] == tokenizer.eos_token_id) is eos
        assert tokenizer.decode(answer_ids, skip_special_tokens=True) == answer


def test_sft_two_steps_with_trl(tmp_path):
    loaded = tiny_loaded()
    before = state_copy(loaded.model)
    config = method_config("sft", **SMALL)
    output = get_method("sft").run(loaded, tiny_data(), tmp_path, config, progress=False)
    assert output.steps == 2 and output.extra["trainer"] == "trl.SFTTrainer"
    assert [row["step"] for row in _log(output) if "loss" in row] == [1, 2]
    _check_restored(loaded, before)
    PeftModel.from_pretrained(tiny_model("qwen2"), str(output.adapter_dir))
    assert MethodOutput.read(tmp_path).adapter_dir == output.adapter_dir


@pytest.mark.parametrize("precompute", [True, False])
def test_dpo_two_steps_with_the_adapter_disabled_model_as_reference(
    tmp_path, monkeypatch, precompute
):
    from trl import DPOTrainer

    reference_rows: list[int] = []
    compute_ref = DPOTrainer.compute_ref_log_probs

    def counting(self, model, inputs):
        reference_rows.append(int(inputs["input_ids"].shape[0]))
        return compute_ref(self, model, inputs)

    monkeypatch.setattr(DPOTrainer, "compute_ref_log_probs", counting)
    loaded = tiny_loaded()
    before = state_copy(loaded.model)
    config = method_config("dpo", **SMALL, precompute_ref=precompute)
    output = get_method("dpo").run(loaded, tiny_data(), tmp_path, config, progress=False)
    # precomputed: one reference pass over the 6 pairs (chosen + rejected), none per step
    assert sum(reference_rows) == (12 if precompute else 0)
    log = [row for row in _log(output) if "loss" in row]
    assert [row["step"] for row in log] == [1, 2]
    # At step 1 the LoRA update is still zero, so the policy equals TRL's reference only if
    # the reference is the adapter-disabled model: rewards are then exactly 0.
    assert log[0]["rewards/chosen"] == 0.0 and log[0]["rewards/margins"] == 0.0
    assert log[0]["loss"] == pytest.approx(0.6931, abs=1e-4)
    assert output.extra["pair_sources"] == {"harmful": 4, "pseudo_harmful": 2}
    _check_restored(loaded, before)
    PeftModel.from_pretrained(tiny_model("qwen2"), str(output.adapter_dir))


def test_dpo_reads_a_user_pair_file(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps({"prompt": f"question {i}", "chosen": "Yes, here.", "rejected": "No."})
            + "\n"
            for i in range(3)
        )
    )
    config = method_config("dpo", **{**SMALL, "max_steps": 1}, pairs_file=str(pairs))
    output = get_method("dpo").run(
        tiny_loaded(), tiny_data(), tmp_path / "out", config, progress=False
    )
    assert output.extra["pair_sources"] == {"file": 3}


def _harc_adapter(path) -> None:
    model = get_peft_model(
        tiny_model("qwen2"),
        LoraConfig(
            r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"], task_type="CAUSAL_LM"
        ),
    )
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.3)
    model.save_pretrained(path)


def test_harc_dpo_merges_trains_on_top_and_restores_the_base(tmp_path):
    harc = tmp_path / "harc-run" / "adapter"
    _harc_adapter(harc)
    loaded = tiny_loaded()
    before = state_copy(loaded.model)
    config = method_config("harc_dpo", harc_adapter=str(harc), dpo=SMALL)
    output = get_method("harc_dpo").run(
        loaded, tiny_data(), tmp_path / "out", config, progress=False
    )
    assert output.kind == "merged_then_adapter" and output.steps == 2
    assert output.merge_adapters == [tmp_path / "out" / "harc_adapter"]
    assert same_state(loaded.model, before, atol=1e-6)
    assert "forward" not in vars(loaded.model)

    # What `harc compare` evaluates: a deep copy of the SAME in-process model, HARC merged in.
    ids = torch.tensor([[5, 6, 7, 8]])
    copy_merged = PeftModel.from_pretrained(copy.deepcopy(loaded.model), str(harc))
    copy_merged = copy_merged.merge_and_unload()
    with torch.no_grad():
        assert not torch.allclose(copy_merged(input_ids=ids).logits,
                                  loaded.model(input_ids=ids).logits, atol=1e-3)

    evaluated = MethodOutput.read(tmp_path / "out").apply(tiny_model("qwen2"))
    merged = PeftModel.from_pretrained(tiny_model("qwen2"), str(harc)).merge_and_unload()
    with torch.no_grad(), evaluated.disable_adapter():
        under_dpo = evaluated(input_ids=ids).logits
    with torch.no_grad():
        assert torch.allclose(under_dpo, merged(input_ids=ids).logits, atol=1e-5)
        assert not torch.allclose(under_dpo, tiny_model("qwen2")(input_ids=ids).logits, atol=1e-3)


def test_harc_dpo_needs_a_harc_adapter(tmp_path):
    with pytest.raises(HarcError, match="harc_adapter"):
        get_method("harc_dpo").run(
            tiny_loaded(), tiny_data(), tmp_path, method_config("harc_dpo"), progress=False
        )
    with pytest.raises(HarcError, match="not a PEFT adapter"):
        get_method("harc_dpo").run(
            tiny_loaded(),
            tiny_data(),
            tmp_path,
            method_config("harc_dpo", harc_adapter=str(tmp_path)),
            progress=False,
        )


def test_harc_dpo_does_not_resume_checkpoints_made_on_another_harc_adapter(tmp_path):
    first, second = tmp_path / "first" / "adapter", tmp_path / "second" / "adapter"
    _harc_adapter(first)
    _harc_adapter(second)
    weights = second / "adapter_model.safetensors"  # same shape, other weights
    save_file({name: 2 * value for name, value in load_file(str(weights)).items()}, str(weights))
    loaded = tiny_loaded()
    before = state_copy(loaded.model)
    dpo = {**SMALL, "checkpoint_every": 1}
    get_method("harc_dpo").run(loaded, tiny_data(), tmp_path / "out",
                               method_config("harc_dpo", harc_adapter=str(first), dpo=dpo),
                               progress=False)
    with pytest.raises(HarcError, match=r"other settings \(model\)"):
        get_method("harc_dpo").run(loaded, tiny_data(), tmp_path / "out",
                                   method_config("harc_dpo", harc_adapter=str(second), dpo=dpo),
                                   progress=False)
    assert same_state(loaded.model, before, atol=1e-6)  # the base restored after the refusal
