"""Signed tokens handed to clients (file_token, log continuation) and Airflow's
cursor paging over the services' offset paging (pure)."""

from __future__ import annotations

import pytest
from leoflow_api_gateway.http.errors import RequestValidationError
from leoflow_api_gateway.http.paging import page
from leoflow_api_gateway.signing import BadSignature, Signer


def test_a_signed_token_round_trips_and_is_refused_when_altered_or_reused_elsewhere():
    signer = Signer("secret", "log_continuation")
    token = signer.dumps({"after_sequence": 42})
    assert signer.loads(token) == {"after_sequence": 42}
    body, _, mac = token.partition(".")
    for forged in (token + "x", f"{body}.{mac[:-2]}AA", "garbage", "", f"{Signer('secret', 'x').dumps({'a': 1})}"):
        with pytest.raises(BadSignature):
            signer.loads(forged)
    with pytest.raises(BadSignature):  # same secret, other purpose
        Signer("secret", "file_token").loads(token)


def test_offset_paging_answers_total_entries_and_clamps_the_limit():
    pg = page(limit=5000, offset=10, order_by=["-run_after"], cursor=None, fallback=50, maximum=1000)
    assert (pg.limit, pg.offset, pg.cursor_mode) == (1000, 10, False)
    assert pg.answer(returned=3, total_entries=13) == {"total_entries": 13}
    assert page(limit=None, offset=0, order_by=[], cursor=None, fallback=50, maximum=1000).limit == 50


def test_limit_zero_asks_for_one_row_and_returns_none():
    pg = page(limit=0, offset=0, order_by=[], cursor=None, fallback=50, maximum=1000)
    assert pg.request().limit == 1 and pg.take([1, 2]) == []


def test_cursor_paging_walks_forward_and_back():
    first = page(limit=2, offset=99, order_by=[], cursor="", fallback=50, maximum=1000)
    assert first.offset == 0  # the cursor wins over offset, as in Airflow
    answer = first.answer(returned=2, total_entries=5)
    assert "total_entries" not in answer and answer["previous_cursor"] is None
    second = page(limit=2, offset=0, order_by=[], cursor=answer["next_cursor"], fallback=50, maximum=1000)
    assert second.offset == 2
    back = second.answer(returned=2, total_entries=5)
    assert page(limit=2, offset=0, order_by=[], cursor=back["previous_cursor"], fallback=50, maximum=1000).offset == 0
    last = page(limit=2, offset=0, order_by=[], cursor=back["next_cursor"], fallback=50, maximum=1000)
    assert last.offset == 4 and last.answer(returned=1, total_entries=5)["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["not-base64!", "eyJvZmZzZXQiOiAtMX0", "bnVsbA"])
def test_a_cursor_the_gateway_did_not_give_is_a_422_naming_it(cursor):
    # The spec documents 422 (not 400) for the paged reads.
    with pytest.raises(RequestValidationError) as caught:
        page(limit=2, offset=0, order_by=[], cursor=cursor, fallback=50, maximum=1000)
    assert caught.value.errors[0]["loc"] == ["query", "cursor"] and caught.value.errors[0]["input"] == cursor
