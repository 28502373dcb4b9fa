"""Write a tiny qwen2 GGUF (random weights, some Q8_0) with the ``gguf`` package, for tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType
from gguf.quants import quantize

from tests.tiny import CHATML_TEMPLATE, SPECIAL_TOKENS, tiny_model, tiny_tokenizer

_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_TOP_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def _gguf_name(hf_name: str) -> str:
    if hf_name in _TOP_NAMES:
        return _TOP_NAMES[hf_name]
    _, _, index, rest = hf_name.split(".", 3)  # model.layers.<i>.<rest>
    return f"blk.{index}.{_LAYER_NAMES[rest]}"


def write_tiny_qwen2_gguf(
    path: Path,
    *,
    num_layers: int = 2,
    name: str = "Tiny Qwen2",
    chat_template: str | None = CHATML_TEMPLATE,
) -> Path:
    """A 2-layer hidden-32 qwen2 GGUF whose 2-D projection weights are stored as Q8_0."""
    model = tiny_model("qwen2", num_layers=num_layers)
    cfg = model.config
    tokenizer = tiny_tokenizer()
    tok_json = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab: dict[str, int] = tok_json["model"]["vocab"]
    tokens = [tok for tok, _ in sorted(vocab.items(), key=lambda item: item[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]

    writer = GGUFWriter(str(path), "qwen2")
    writer.add_name(name)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_file_type(7)  # MOSTLY_Q8_0
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [TokenType.CONTROL if t in SPECIAL_TOKENS else TokenType.NORMAL for t in tokens]
    )
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab["<bos>"])
    writer.add_eos_token_id(vocab["<eos>"])
    writer.add_pad_token_id(vocab["<pad>"])
    writer.add_add_bos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    for hf_name, tensor in model.state_dict().items():
        data = tensor.detach().float().numpy()
        if data.ndim == 2 and data.shape[1] % 32 == 0 and "embed" not in hf_name:
            quantized = quantize(data, GGMLQuantizationType.Q8_0)
            writer.add_tensor(_gguf_name(hf_name), quantized, raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(_gguf_name(hf_name), np.ascontiguousarray(data, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
