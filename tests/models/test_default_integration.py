from __future__ import annotations

import pytest
import torch

from harc.models import find_decoder_blocks, load_default, num_residual_slots
from tests.embedded import needs_default_model


@pytest.mark.integration
@needs_default_model
def test_default_model_loads_and_generates() -> None:
    loaded = load_default()
    model, tokenizer = loaded.model, loaded.tokenizer
    assert "Qwen2.5 Coder 0.5B Instruct" in loaded.name
    assert len(find_decoder_blocks(model)) == 24
    assert num_residual_slots(model) == 25
    assert model.config.hidden_size == 896
    assert tokenizer.chat_template
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    assert getattr(model, "hf_quantizer", None) is None

    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hello."}], tokenize=False, add_generation_prompt=True
    )
    enc = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=6, do_sample=False)
    reply = tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert reply.strip()
