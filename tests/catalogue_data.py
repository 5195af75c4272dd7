"""Bad-input cases: data (see tests/catalogue.py)."""

from __future__ import annotations

from pathlib import Path

from catalogue import Case


def prepare(root: Path) -> None:
    """Write this part's broken files under ``root`` (the world of tests/test_bad_inputs.py,
    which already holds ``data/`` and a finished tiny-bert run ``run/``)."""
    d = root / "data"
    rows = "".join(f"{w} film number {i}\t{int(w == 'great')}\n" for i, w in enumerate(["great", "awful"] * 10))
    (d / "d_repeated_column.tsv").write_text("text\tlabel\tlabel\ngood\t1\t0\nbad\t0\t1\n")
    (d / "d_repeated_key.jsonl").write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": 0, "label": 1}\n')
    (d / "d_mixed_labels.tsv").write_text("text\tlabel\ngood\t1\nfine\tpos\nawful\tneg\nbad\t0\n")
    (d / "d_decimal_labels.tsv").write_text("text\tlabel\n" + "".join(
        f"film {i}\t{v}\n" for i, v in enumerate(["0.5", "1.0", "2.5"] * 7)))
    # str.splitlines() would end row 2 at each of these and number the decimal label row 6.
    (d / "d_line_like.csv").write_text('text,label\ngood\x0cfilm\u2028here\rand\x1cthere,1\nbad,0.5\n', newline="")
    # Row 2 is longer than the csv module's default field limit (131,072); row 3 is the problem.
    (d / "d_long_field.csv").write_text(f'text,label\n"{"word " * 30_000}",1\nfine, really,0\n')
    (d / "d_quoted_tab.tsv").write_text('text\tlabel\ngood\t1\n"tab\tinside"\t0\n' + rows)
    (d / "d_short_row.tsv").write_text("text\tlabel\ngood\t1\nhalf a row\n" + rows)
    (d / "d_late_nul.tsv").write_text("text\tlabel\n" + rows * 20 + "ba\x00d\t0\n")
    (d / "d_nul.txt").write_bytes(b"\x00" * 1000)
    (d / "d_nul_inside.txt").write_text("".join(f"the film was fine, part {i}\n" for i in range(30)) + "a\x00b\n")
    # Tagging files (words and BIO tags): a good sentence first, then the problem.
    good = "Anna B-PER\nSmith I-PER\nlives O\nin O\nLisbon B-LOC\n.\tO\n\n"
    (d / "t_no_tag.conll").write_text(good + "Pedro B-PER\nworks\nhere O\n")
    (d / "t_bioes.conll").write_text(good + "Maria S-PER\nleft O\n")
    (d / "t_i_after_o.conll").write_text(good + "the O\nNew O\nYork I-LOC\nTimes I-ORG\n")
    (d / "t_lengths.jsonl").write_text('{"tokens": ["Anna", "lives", "in", "Lisbon"], "tags": ["B-PER", "O", "O", "B-LOC"]}\n'
                                       '{"tokens": ["Pedro", "works", "in", "Porto"], "tags": ["B-PER", "O", "B-LOC"]}\n')


def cases(root: Path) -> dict[str, Case]:
    d, run = root / "data", str(root / "run")
    tiny = ["--model", "tiny-bert", "--quiet", "--out", str(root / "new_run")]
    return {
        "repeated column": Case(["train", "--data", str(d / "d_repeated_column.tsv"), *tiny],
                                "has two columns named 'label' (columns 2 and 3); rename or delete one"),
        "repeated jsonl key": Case(["train", "--data", str(d / "d_repeated_key.jsonl"), *tiny],
                                   "line 2 gives the key 'label' twice; keep one"),
        "labels mix numbers and words": Case(
            ["evaluate", run, "--data", str(d / "d_mixed_labels.tsv")],
            "mixes numbers and words: rows 2, 5 are numbers (1, 0) but rows 3, 4 are words (pos, neg); "
            "give every row an id 0..K-1 or every row a name"),
        "decimal labels": Case(["train", "--data", str(d / "d_decimal_labels.tsv"), *tiny],
                               "rows 2, 3, 4, ... are decimals (0.5, 1.0, 2.5); labels must be whole-number ids 0..K-1 or names"),
        "line-like characters stay in their row": Case(["train", "--data", str(d / "d_line_like.csv"), *tiny],
                                                       "row 3 is a decimal (0.5)"),
        "long csv field then an unquoted comma": Case(
            ["train", "--data", str(d / "d_long_field.csv"), *tiny],
            'row 3 has 3 fields but the header has 2 (text, label); put a text that holds a comma in double quotes'),
        "quoted tab in a tsv text": Case(
            ["train", "--data", str(d / "d_quoted_tab.tsv"), *tiny],
            "row 3 has 3 fields but the header has 2 (text, label); a TSV text cannot hold a tab or a line break, "
            "even in quotes: save the data as CSV or JSONL"),
        "short tsv row": Case(["train", "--data", str(d / "d_short_row.tsv"), *tiny],
                              "row 3 has 1 field but the header has 2 (text, label)"),
        "nul byte late in a data file": Case(["train", "--data", str(d / "d_late_nul.tsv"), *tiny],
                                             "holds a NUL byte on line 402, so it is damaged or not text"),
        "corpus of nul bytes": Case(["pretrain", "--corpus", str(d / "d_nul.txt"), "--steps", "1", *tiny],
                                    "holds NUL bytes (first on line 1), so it is binary or damaged; give a UTF-8 .txt"),
        "nul bytes inside a corpus": Case(["pretrain", "--corpus", str(d / "d_nul_inside.txt"), "--steps", "1", *tiny],
                                          "holds NUL bytes (first on line 31)"),
        # tagging files
        "conll word without a tag": Case(["train", "--task", "tagging", "--data", str(d / "t_no_tag.conll"), *tiny],
                                         "t_no_tag.conll line 9 has a word ('works') but no tag; write one 'word TAG' per line"),
        "unknown tag scheme": Case(["train", "--task", "tagging", "--data", str(d / "t_bioes.conll"), *tiny],
                                   "t_bioes.conll line 8 has the tag 'S-PER', of an unknown tag scheme; ptm reads BIO tags "
                                   "(O, B-X, I-X)"),
        "tag I- after O": Case(["train", "--task", "tagging", "--data", str(d / "t_i_after_o.conll"), *tiny],
                               "t_i_after_o.conll line 10 has the tag 'I-LOC', which follows 'O'; ptm reads IOB2, where "
                               "every entity starts with B-: make it B-LOC"),
        "jsonl tokens and tags differ in length": Case(
            ["train", "--task", "tagging", "--data", str(d / "t_lengths.jsonl"), *tiny],
            "t_lengths.jsonl line 2 has 4 tokens but 3 tags (tags); give exactly one tag per token"),
    }
