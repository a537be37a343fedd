"""Neutral messages, token estimates, the price table and counters."""

from __future__ import annotations

import pytest

from longplay.agents.lm.accounting import Counters, PriceTable
from longplay.agents.lm.messages import (
    IMAGE_TOKENS,
    Image,
    Message,
    ModelRequest,
    Text,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
    estimate_tokens,
)


def test_message_json_round_trip() -> None:
    m = Message(
        "user",
        [
            Text("hi"),
            Image(b"\x89PNG..."),
            ToolResult("c1", "t", "done", True),
            ToolCall("c2", "t", None, "{bad", "not JSON"),
        ],
    )
    assert Message.from_json(m.to_json()) == m


def test_digest_changes_with_content_and_is_stable() -> None:
    def request(text: str) -> ModelRequest:
        return ModelRequest("sys", [Message("user", [Text(text), Image(b"png")])], [ToolSpec("t", "d", {})])

    assert request("a").digest() == request("a").digest()
    assert request("a").digest() != request("b").digest()
    assert request("a").digest().startswith("sha256:")


def test_estimate_counts_text_and_images() -> None:
    small = ModelRequest("", [Message("user", [Text("x" * 400)])])
    with_image = ModelRequest("", [Message("user", [Text("x" * 400), Image(b"p")])])
    assert estimate_tokens(with_image) - estimate_tokens(small) == IMAGE_TOKENS
    assert 100 <= estimate_tokens(small) <= 110


def test_price_table_shipped_and_versioned() -> None:
    table = PriceTable.load()
    assert table.version and table.source.endswith("prices.toml")
    for price in table.prices.values():
        assert price.output >= price.input >= price.cache_read >= 0
    assert table.lookup("claude-sonnet-4-5-20250929").name == "claude-sonnet-4-5"
    assert table.lookup("openrouter/gpt-4o-mini").name == "gpt-4o-mini"
    assert table.lookup("some-local-llama") is None
    assert table.lookup("gpt-4o-2024-08-06").name == "gpt-4o"
    assert table.lookup("anthropic.claude-sonnet-4-5-20250929-v1:0".split(".", 1)[1]).name == "claude-sonnet-4-5"
    assert table.lookup("o3-latest").name == "o3"
    # another model of a family is not its cheaper sibling: o3-pro and gpt-5-pro cost ten times o3 and gpt-5
    for other in ("o3-pro", "gpt-5-pro", "gpt-4o-audio-preview", "claude-opus-4-7"):
        assert table.lookup(other) is None, other
    sonnet = table.lookup("claude-sonnet-4-5")
    cost = sonnet.cost(Usage(input=1_000_000, output=1_000_000, cache_read=1_000_000, cache_write=1_000_000))
    assert cost == pytest.approx(3 + 15 + 0.3 + 3.75)


def test_price_table_from_file(tmp_path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('version = "test-1"\n[models.mine]\ninput = 1\noutput = 2\n')
    table = PriceTable.load(path)
    assert table.version == "test-1" and table.lookup("mine-20250101").cache_read == 1.0
    # an entry without cache prices bills cached tokens as input, reads and writes alike (never as free)
    assert table.lookup("mine").cost(Usage(cache_read=1_000_000, cache_write=1_000_000)) == pytest.approx(2.0)
    # a snapshot with an entry of its own is billed by it, not by its family's: the longest entry it extends
    path.write_text("[models.mine]\ninput = 1\noutput = 2\n[models.mine-20250101]\ninput = 5\noutput = 6\n")
    table = PriceTable.load(path)
    assert table.lookup("mine-20250101-v1:0").name == "mine-20250101" and table.lookup("mine-v2").name == "mine"
    path.write_text("[models.bad]\ninput = 'x'\n")
    with pytest.raises(ValueError, match="invalid price entry"):
        PriceTable.load(path)
    path.write_text("not toml [")
    with pytest.raises(ValueError, match="invalid TOML"):
        PriceTable.load(path)


def test_counters_round_trip() -> None:
    c = Counters(steps=3)
    c.add_usage(Usage(10, 5, 2, 1), 0.5)
    assert c.tokens == 18 and c.model_calls == 1
    assert Counters.from_json(c.to_json()) == c
