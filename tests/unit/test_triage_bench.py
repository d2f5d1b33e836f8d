"""bench/triage.py on the labelled corpus: every promise-changing class of both presets reaches precision 0.95
(the script exits 1 otherwise), and a mislabelled corpus makes it fail with the class named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import triage


@pytest.mark.slow  # the whole corpus through both presets' rules: a few seconds
def test_both_presets_reach_the_precision_target_on_the_labelled_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    code = triage.main([])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    for name in ("customization-quote", "site-management", "out-of-scope", "partnership-or-suggestion", "file-changes", "local-server"):
        assert f"{name} " in out and "*" in out.split(f"\n{name} ")[1].splitlines()[0], f"{name} is not held to the target"
    assert "below" not in out + err
    # A guess never takes away a promise: every entitled sender's class is a suggestion, never a lost deadline.
    assert out.count("promises taken away from entitled senders by a rule: 0") == 2


def test_precision_below_the_target_fails_and_names_the_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wrong.toml").write_text(
        '[[message]]\nid = "x-1"\nsender = "entitled"\nsubject = "New module"\n'
        'body = "Please develop a new module for our site and send us a quote."\n'
        'support-period = "support"\nlicense-age = "support"\n'
        '[[message]]\nid = "x-2"\nsender = "entitled"\nsubject = "Module"\n'
        'body = "Could you build an auction module for us? Please send an estimate."\n'
        'support-period = "customization-quote"\nlicense-age = "file-changes"\n',
        encoding="utf-8",
    )
    assert triage.main(["--corpus", str(corpus)]) == 1
    out, err = capsys.readouterr()
    assert "support-period/customization-quote" in err and "license-age/file-changes" in err
    assert "x-1" in out  # the wrongly classified message is listed


def test_a_bad_corpus_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bad.toml").write_text('[[message]]\nid = "x-1"\nsender = "customer"\nsubject = "s"\nbody = "b"\nsupport-period = "support"\nlicense-age = "support"\n', encoding="utf-8")
    assert triage.main(["--corpus", str(corpus)]) == 2
    assert f"{corpus / 'bad.toml'}: x-1 sender: expected one of entitled, expired, unknown" in capsys.readouterr().err
