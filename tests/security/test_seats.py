"""Seats are held by tokens: nobody else moves, resigns, offers or accepts a draw.

Every refused attempt goes to all three servers; each must answer the same
error, and no server's state may change (documents byte for byte, clock and
digest).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from game import protocol as p
from tests.hostile import support
from tests.integration.cluster import ALL, Match, error_tag, new_token, timed_test


async def refused(clients, command, expected: str, **arguments: Any) -> None:
    """Send to all three servers; each must answer ``expected``."""
    answers = await clients.call_each(command, **arguments)
    tags = {i: error_tag(a) for i, a in answers.items()}
    assert tags == {i: expected for i in ALL}, (
        f"{command.__name__}({arguments}) answered {tags}, expected {expected} everywhere"
    )


async def snapshot(clients, game_ids) -> tuple[Any, ...]:
    statuses = await clients.statuses()
    state = {i: (s["clock"], s["games"], s["digest"]) for i, s in statuses.items()}
    return state, await support.documents(clients, list(game_ids))


def token_hash(game_id: str, seat: int, token: str) -> str:
    return hashlib.sha256(f"{game_id}\0{seat}\0{token}".encode()).hexdigest()


def wrong_tokens(game: Match, other: Match, seat: int) -> dict[str, str]:
    """Tokens that must not act for ``seat`` of ``game``."""
    real = game.players[seat].token
    return {
        "a random token": new_token(),
        "the same seat's token in another game": other.players[seat].token,
        "the other seat's token in another game": other.players[1 - seat].token,
        "the stored hash of the real token": token_hash(game.id, seat, real),
        "the real token upper-cased": real.upper(),
        "the real token with one more character": real + "0",
        "the real token less its last character": real[:-1],
    }


@timed_test(90)
async def test_moves_resigns_and_draws_need_the_seat_token(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    other = Match(clients, "connect4")
    await game.start()
    await other.start()
    await game.moves(["4", "4"])  # version 4, seat 0 to move
    games = (game.id, other.id)
    before = await snapshot(clients, games)
    alice, bob = game.players
    v = game.version

    for why, token in wrong_tokens(game, other, 0).items():
        for command, extra in [
            (p.MakeMove, {"move": "3"}),
            (p.Resign, {}),
            (p.OfferDraw, {}),
            (p.AcceptDraw, {}),
        ]:
            try:
                await refused(clients, command, "BAD_TOKEN", game_id=game.id, version=v,
                              token=token, **extra)  # fmt: skip
            except AssertionError as error:
                raise AssertionError(f"{why}: {error}") from None
    # The other seat's own token: not its turn.
    await refused(clients, p.MakeMove, "NOT_YOUR_TURN", game_id=game.id, version=v, move="3",
                  token=bob.token)  # fmt: skip
    await refused(clients, p.OfferDraw, "NOT_YOUR_TURN", game_id=game.id, version=v,
                  token=bob.token)  # fmt: skip
    await refused(clients, p.AcceptDraw, "NOT_YOUR_TURN", game_id=game.id, version=v,
                  token=bob.token)  # fmt: skip
    # Replaying the last move (Bob's "4" at version 3) is a repeat only with Bob's token.
    for token in (new_token(), alice.token):
        await refused(clients, p.MakeMove, "STALE_VERSION", game_id=game.id, version=v - 1,
                      move="4", token=token)  # fmt: skip
    repeat = await clients.game(p.MakeMove, game_id=game.id, version=v - 1, move="4",
                                token=bob.token)  # fmt: skip
    assert repeat == game.doc
    # Taking over the game id.
    await refused(clients, p.CreateGame, "GAME_EXISTS", game_id=game.id, kind="connect4",
                  player="alice", token=new_token())  # fmt: skip
    assert await snapshot(clients, games) == before, "a refused command changed a server"

    # A standing draw offer can only be accepted by the opponent, on its turn.
    game.doc = await clients.game(p.OfferDraw, game_id=game.id, version=v, token=alice.token)
    v = game.version
    await refused(clients, p.AcceptDraw, "NO_DRAW_OFFER", game_id=game.id, version=v,
                  token=alice.token)  # fmt: skip
    await refused(clients, p.AcceptDraw, "NOT_YOUR_TURN", game_id=game.id, version=v,
                  token=bob.token)  # fmt: skip
    await game.move("3")  # Alice's own move keeps her offer; Bob's turn
    after_offer = await snapshot(clients, games)
    for why, token in wrong_tokens(game, other, 1).items():
        try:
            await refused(clients, p.AcceptDraw, "BAD_TOKEN", game_id=game.id,
                          version=game.version, token=token)  # fmt: skip
        except AssertionError as error:
            raise AssertionError(f"{why}: {error}") from None
    await refused(clients, p.AcceptDraw, "NOT_YOUR_TURN", game_id=game.id, version=game.version,
                  token=alice.token)  # fmt: skip
    assert await snapshot(clients, games) == after_offer, "a refused command changed a server"
    assert json.loads(after_offer[1][game.id][1])["draw_offer"] == 0
    for i in ALL:
        assert not support.log_problems(cluster[i].log())


@timed_test(60)
async def test_joining_a_full_open_or_finished_game(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    full = Match(clients, "reversi")
    await full.start()
    waiting = Match(clients, "checkers")
    await waiting.create()
    over = Match(clients, "connect4")
    await over.start()
    over.doc = await clients.game(p.Resign, game_id=over.id, version=over.version,
                                  token=over.players[0].token)  # fmt: skip
    games = (full.id, waiting.id, over.id)
    before = await snapshot(clients, games)

    await refused(clients, p.JoinGame, "GAME_FULL", game_id=full.id, version=full.version,
                  player="mallory", token=new_token())  # fmt: skip
    for seated in full.players:  # a seated token cannot take the other seat either
        await refused(clients, p.JoinGame, "BAD_TOKEN", game_id=full.id, version=full.version,
                      player="mallory", token=seated.token)  # fmt: skip
    await refused(clients, p.JoinGame, "BAD_TOKEN", game_id=waiting.id, version=1,
                  player="alice", token=waiting.players[0].token)  # fmt: skip
    await refused(clients, p.JoinGame, "GAME_OVER", game_id=over.id, version=over.version,
                  player="mallory", token=new_token())  # fmt: skip
    # Strangers cannot resign, move or draw in an open game either.
    await refused(clients, p.Resign, "BAD_TOKEN", game_id=waiting.id, version=1,
                  token=new_token())  # fmt: skip
    await refused(clients, p.MakeMove, "NOT_YOUR_TURN", game_id=waiting.id, version=1,
                  move="11-15", token=waiting.players[0].token)  # fmt: skip
    await refused(clients, p.MakeMove, "BAD_TOKEN", game_id=over.id, version=over.version,
                  move="1", token=new_token())  # fmt: skip
    assert await snapshot(clients, games) == before, "a refused command changed a server"


@timed_test(40)
async def test_refused_seat_commands_are_logged(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()
    await refused(clients, p.MakeMove, "BAD_TOKEN", game_id=game.id, version=game.version,
                  move="4", token=new_token())  # fmt: skip
    await refused(clients, p.JoinGame, "GAME_FULL", game_id=game.id, version=game.version,
                  player="mallory", token=new_token())  # fmt: skip
    await refused(clients, p.MakeMove, "NOT_YOUR_TURN", game_id=game.id, version=game.version,
                  move="4", token=game.players[1].token)  # fmt: skip
    for i in ALL:
        lines = [line for line in cluster[i].log().splitlines() if game.id in line]
        for tag in ("BAD_TOKEN", "GAME_FULL", "NOT_YOUR_TURN"):
            assert any(tag in line for line in lines), f"server {i} did not log the {tag}"
