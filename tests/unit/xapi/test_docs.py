"""docs/xapi.md stays true: its example statements are valid and it lists every verb we use."""

from __future__ import annotations

import json
import re
from pathlib import Path

from xapi import vocabulary as v
from xapi.validation import validate

DOC = Path(__file__).resolve().parents[3] / "docs" / "xapi.md"


def test_every_example_statement_in_the_docs_is_valid_xapi() -> None:
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), flags=re.S)
    verbs = set()
    for block in blocks:
        statement = json.loads(block)
        validate(statement)
        verbs.add(statement["verb"]["id"])
    written = {verb.iri for verb in v.ALL_VERBS} - {v.COMPLETED.iri}  # completed is read, never written
    assert verbs == written


def test_the_vocabulary_table_names_every_verb() -> None:
    text = DOC.read_text(encoding="utf-8")
    for verb in v.ALL_VERBS:
        assert f"`{verb.iri}`" in text, verb
