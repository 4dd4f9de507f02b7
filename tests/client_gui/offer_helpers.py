"""Documents with takeback and rematch offers (docs/protocol.md), and a fake
client that records the offers' requests too; shared by the controller
tests and the headless pixel tests."""

from __future__ import annotations

from typing import Any

from tests.client_gui.helpers import FakeClient, document

#: Connect Four: black (seat 0) wins with its fourth disc on the bottom row.
CONNECT4_WIN = ("4", "4", "3", "3", "2", "2", "1")
#: The id of the new game in the rematch documents.
NEW_GAME = "n" * 32


def with_takeback(doc: dict[str, Any], seat: int, events: int = 1) -> dict[str, Any]:
    """``doc`` with ``seat``'s takeback offer standing, ``events`` later."""
    return {**doc, "takeback": seat, "version": doc["version"] + events}


def taken_back(doc: dict[str, Any], moves: int, events: int = 2) -> dict[str, Any]:
    """``doc`` once a takeback undid its last ``moves`` moves (the offer
    and the accept: ``events`` later)."""
    kept = document(doc["kind"], doc["moves"][: len(doc["moves"]) - moves], game_id=doc["id"])
    return {**kept, "version": doc["version"] + events}


def finished_game(game_id: str = "g1") -> dict[str, Any]:
    """A Connect Four game black (alice, seat 0) won."""
    return document("connect4", CONNECT4_WIN, game_id=game_id)


def with_rematch(
    doc: dict[str, Any], by: int, state: str = "offered", events: int = 1, game: str = NEW_GAME
) -> dict[str, Any]:
    """``doc`` (finished) with a rematch ``by`` a seat in ``state``, ``events`` later."""
    return {
        **doc,
        "rematch": {"by": by, "game": game, "state": state},
        "version": doc["version"] + events,
    }


def rematch_game(old: dict[str, Any], game: str = NEW_GAME) -> dict[str, Any]:
    """The new game an accepted rematch of ``old`` created: colours swapped,
    both seated, nothing played yet."""
    players = (old["players"][1], old["players"][0])
    return {**document(old["kind"], players=players, game_id=game), "rematch_of": old["id"]}


def offer_documents() -> list[dict[str, Any]]:
    """A game in every takeback and rematch state the side panel shows."""
    active = document("connect4", ("4", "4"))
    finished = finished_game()
    return [
        active,
        with_takeback(active, 0),
        with_takeback(active, 1),
        finished,
        with_rematch(finished, 0),
        with_rematch(finished, 1),
        with_rematch(finished, 1, "declined"),
        with_rematch(finished, 1, "accepted", 2),
    ]


class OfferClient(FakeClient):
    """The fake client, with the takeback and rematch requests."""

    def offer_takeback(self, game_id: str, version: int, token: str) -> Any:
        return self._call("offer_takeback", game_id=game_id, version=version, token=token)

    def accept_takeback(self, game_id: str, version: int, token: str) -> Any:
        return self._call("accept_takeback", game_id=game_id, version=version, token=token)

    def decline_takeback(self, game_id: str, version: int, token: str) -> Any:
        return self._call("decline_takeback", game_id=game_id, version=version, token=token)

    def offer_rematch(
        self, game_id: str, version: int, token: str, rematch_id: str, rematch_token: str
    ) -> Any:
        return self._call(
            "offer_rematch",
            game_id=game_id,
            version=version,
            token=token,
            rematch_id=rematch_id,
            rematch_token=rematch_token,
        )

    def accept_rematch(self, game_id: str, version: int, token: str, rematch_token: str) -> Any:
        return self._call(
            "accept_rematch",
            game_id=game_id,
            version=version,
            token=token,
            rematch_token=rematch_token,
        )

    def decline_rematch(self, game_id: str, version: int, token: str) -> Any:
        return self._call("decline_rematch", game_id=game_id, version=version, token=token)
