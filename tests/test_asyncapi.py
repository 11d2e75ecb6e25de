"""The AsyncAPI document passes the official parser and describes every channel and message."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from durchstarten.events import CATALOGUE
from durchstarten.events.topics import project_topics

REPO = Path(__file__).resolve().parents[1]
DOCUMENT = REPO / "docs" / "asyncapi.yaml"


def test_the_official_asyncapi_parser_accepts_the_document() -> None:
    node = shutil.which("node")
    assert node, "Node.js is required (the Makefile installs the parser with npm)"
    result = subprocess.run(
        [node, str(REPO / "tools" / "asyncapi" / "validate.mjs"), str(DOCUMENT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout
    assert "error:" not in result.stdout


def test_every_topic_and_message_is_in_the_document() -> None:
    document = yaml.safe_load(DOCUMENT.read_text())
    addresses = [channel["address"] for channel in document["channels"].values()]
    patterns = [
        re.compile("^" + re.escape(a).replace(r"\{provider\}", "[a-z0-9-]+") + "$")
        for a in addresses
    ]
    for topic in project_topics(["some-provider"]):
        assert any(p.match(topic) for p in patterns), topic
    names = {message["name"] for message in document["components"]["messages"].values()}
    assert {entry.type for entry in CATALOGUE} <= names
    for operation in document["operations"].values():
        assert operation["action"] in {"send", "receive"}
