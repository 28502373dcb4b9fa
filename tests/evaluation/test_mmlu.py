from __future__ import annotations

import csv

import pytest
import torch

from harc.errors import DataError, HarcError
from harc.evaluation.benchmarks import mmlu
from harc.positions import ChatFormat
from tests.evaluation.fakes import LetterModel, PieceTokenizer
from tests.tiny import tiny_tokenizer

HEADER = ["question", "choice0", "choice1", "choice2", "choice3", "answer"]


def write_mmlu(root, subjects=("algebra", "zoology"), answers=(2, 0, 2)):
    for split, count in (("dev", 2), ("test", len(answers))):
        folder = root / "mmlu" / split
        folder.mkdir(parents=True, exist_ok=True)
        for subject in subjects:
            with (folder / f"{subject}_{split}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(HEADER)
                for i in range(count):
                    answer = answers[i] if split == "test" else i % 4
                    writer.writerow([f"{subject} {split} q{i}?", "w", "x", "y", "z", answer])
    return root


def test_loader_reads_subjects_and_validates_answers(tmp_path):
    write_mmlu(tmp_path)
    items = mmlu.load_mmlu("test", data_root=tmp_path)
    assert [i.subject for i in items] == ["algebra"] * 3 + ["zoology"] * 3
    assert items[0].choices == ("w", "x", "y", "z") and items[0].answer == 2
    assert mmlu.list_subjects(data_root=tmp_path) == ["algebra", "zoology"]
    bad = tmp_path / "mmlu" / "test" / "algebra_test.csv"
    bad.write_text("question,choice0,choice1,choice2,choice3,answer\nq,a,b,c,d,7\n")
    with pytest.raises(DataError, match=r"algebra_test\.csv, row 1: answer"):
        mmlu.load_mmlu("test", subjects=["algebra"], data_root=tmp_path)
    with pytest.raises(DataError, match="unknown MMLU subject"):
        mmlu.load_mmlu("test", subjects=["nope"], data_root=tmp_path)


def test_prompt_is_the_standard_few_shot_format(tmp_path):
    write_mmlu(tmp_path)
    dev = mmlu.load_mmlu("dev", subjects=["algebra"], data_root=tmp_path)
    item = mmlu.load_mmlu("test", subjects=["algebra"], data_root=tmp_path)[0]
    prompt = mmlu.build_prompt(item, dev[:1])
    assert prompt == (
        "The following are multiple choice questions (with answers) about algebra.\n\n"
        "algebra dev q0?\nA. w\nB. x\nC. y\nD. z\nAnswer: A\n\n"
        "algebra test q0?\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    )


def test_letter_tokens_prefer_the_spaced_single_token():
    tokenizer = PieceTokenizer(["Answer", " A", " B", " C", " D"])
    letters = mmlu.letter_token_ids(tokenizer)
    assert letters.variant == "space" and letters.prompt_suffix == ""
    assert letters.ids == tuple(tokenizer.vocab[f" {x}"] for x in "ABCD")


def test_letter_tokens_when_the_space_is_its_own_token():
    tokenizer = PieceTokenizer(["Answer"])
    letters = mmlu.letter_token_ids(tokenizer)
    assert letters.variant == "space-split" and letters.prompt_suffix == " "
    assert letters.ids == tuple(tokenizer.vocab[x] for x in "ABCD")


def test_letter_tokens_fall_back_to_bare_letters_and_reject_shared_ids():
    letters = mmlu.letter_token_ids(tiny_tokenizer())
    assert len(set(letters.ids)) == 4

    class Collapsing:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [1] if text == "Answer:" else [1, 7]}

    with pytest.raises(HarcError, match="share a token id"):
        mmlu.letter_token_ids(Collapsing())


def test_pick_choice_takes_the_highest_and_first_on_ties():
    assert mmlu.pick_choice([0.1, 2.0, -1.0, 1.9]) == 1
    assert mmlu.pick_choice([1.0, 3.0, 3.0, 0.0]) == 1


def test_run_picks_the_letter_with_the_highest_logit(tmp_path):
    write_mmlu(tmp_path, answers=(2, 0, 2))
    tokenizer = tiny_tokenizer()
    letters = mmlu.letter_token_ids(tokenizer)
    model = LetterModel(letters.ids, [0.0, 1.0, 5.0, 2.0], vocab=len(tokenizer), decoy=7)
    result = mmlu.run(model, tokenizer, k_shot=2, data_root=tmp_path, batch_size=4)
    assert [s.output for s in result.samples] == ["C"] * 6
    assert result.score == pytest.approx(4 / 6) and result.n == 6
    assert result.breakdown["subject"]["algebra"].value == pytest.approx(2 / 3)
    assert all(s.meta["shots"] == 2 for s in result.samples)
    assert result.ci[0] < result.score < result.ci[1]


def test_run_limits_are_deterministic(tmp_path):
    write_mmlu(tmp_path, answers=(0, 1, 2, 3, 0))
    tokenizer = tiny_tokenizer()
    model = LetterModel(mmlu.letter_token_ids(tokenizer).ids, [1, 0, 0, 0], vocab=len(tokenizer))
    one = mmlu.run(model, tokenizer, k_shot=0, per_subject_limit=2, data_root=tmp_path)
    assert one.n == 4 and one.config["k_shot"] == 0
    picked = [
        s.meta["row"]
        for s in mmlu.run(model, tokenizer, limit=3, seed=1, data_root=tmp_path).samples
    ]
    again = [
        s.meta["row"]
        for s in mmlu.run(model, tokenizer, limit=3, seed=1, data_root=tmp_path).samples
    ]
    assert picked == again and len(picked) == 3


def test_max_length_drops_shots_before_truncating(tmp_path):
    write_mmlu(tmp_path)
    tokenizer = tiny_tokenizer()
    letters = mmlu.letter_token_ids(tokenizer)
    item = mmlu.load_mmlu("test", subjects=["algebra"], data_root=tmp_path)[0]
    dev = mmlu.load_mmlu("dev", subjects=["algebra"], data_root=tmp_path)
    _, k = mmlu._encode_item(item, dev, tokenizer, None, letters, None)
    assert k == 2
    zero_shot, _ = mmlu._encode_item(item, [], tokenizer, None, letters, None)
    ids, k = mmlu._encode_item(item, dev, tokenizer, None, letters, len(zero_shot))
    assert k == 0 and ids == zero_shot
    ids, k = mmlu._encode_item(item, dev, tokenizer, None, letters, 10)
    assert k == 0 and ids == zero_shot[-10:]


def test_chat_option_wraps_the_question_in_the_template(tiny_pair, tmp_path):
    write_mmlu(tmp_path)
    _, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    letters = mmlu.letter_token_ids(tokenizer)
    item = mmlu.load_mmlu("test", subjects=["algebra"], data_root=tmp_path)[0]
    ids, _ = mmlu._encode_item(item, [], tokenizer, chat, letters, None)
    user = mmlu.build_prompt(item, []).removesuffix("Answer:")
    expected = chat.format(user) + "Answer:" + letters.prompt_suffix
    assert ids == tokenizer(expected, add_special_tokens=False)["input_ids"]
    assert expected.endswith(chat.suffix + "Answer:" + letters.prompt_suffix)


def test_tiny_model_batched_and_unbatched_agree(tiny_pair, tmp_path):
    write_mmlu(tmp_path, answers=(0, 1, 2))
    model, tokenizer = tiny_pair
    one = mmlu.run(model, tokenizer, k_shot=1, data_root=tmp_path, batch_size=1)
    many = mmlu.run(model, tokenizer, k_shot=1, data_root=tmp_path, batch_size=6)
    first = torch.tensor([s.meta["letter_logits"] for s in one.samples])
    second = torch.tensor([s.meta["letter_logits"] for s in many.samples])
    assert torch.allclose(first, second, atol=1e-3)
    assert [s.output for s in one.samples] == [s.output for s in many.samples]
    chat = mmlu.run(model, tokenizer, k_shot=1, data_root=tmp_path, chat=True, limit=2)
    assert chat.n == 2 and chat.config["chat"] is True
