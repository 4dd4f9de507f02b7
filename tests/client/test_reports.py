"""Tests for what ``replgame`` prints (:mod:`game.client.reports`)."""

from __future__ import annotations

import json
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client import boards, reports
from game.client.client import ServerStatus
from game.client.majority import ListedGame
from game.client.watching import WatchUpdate
from game.config import default_config
from tests.client.cli_fakes import doc, game_answer, outcome_of, typed_doc


class OutcomeOutputTests(SynchronousTestCase):
    def test_majority_answer(self) -> None:
        outcome = outcome_of("MakeMove", (2, game_answer(doc())), (1, game_answer(doc())), asked=3)
        self.assertEqual(
            reports.outcome_fields(outcome),
            {"provisional": False, "agreed": [1, 2], "differed": [], "failed": [],
             "pending": [3], "unreachable": []},
        )  # fmt: skip
        self.assertIsNone(reports.provisional_note(outcome))
        self.assertIsNone(reports.servers_note(outcome))

    def test_one_server_only(self) -> None:
        outcome = outcome_of("MakeMove", (2, game_answer(doc())))
        fields = reports.outcome_fields(outcome, unreachable=[1, 3])
        self.assertEqual(
            fields,
            {"provisional": True, "agreed": [2], "differed": [], "failed": [], "pending": [],
             "unreachable": [1, 3]},
        )  # fmt: skip
        self.assertEqual(
            reports.provisional_note(outcome), "PROVISIONAL: only server 2 answered; no majority"
        )
        self.assertEqual(
            reports.servers_note(outcome, [1, 3]),
            "note: answer of server 2; servers 1 and 3 unreachable",
        )

    def test_all_differ(self) -> None:
        outcome = outcome_of(
            "GetGame",
            (3, game_answer(doc(5))),
            (1, game_answer(doc(4))),
            (2, wire.UnknownGame()),
        )
        fields = reports.outcome_fields(outcome)
        self.assertEqual((fields["agreed"], fields["differed"]), ([3], [1, 2]))
        self.assertEqual(
            reports.provisional_note(outcome),
            "PROVISIONAL: servers 1, 2 and 3 answered differently; no majority; "
            "showing server 3's answer",
        )

    def test_a_dissent_or_a_failure_under_a_majority(self) -> None:
        dissent = outcome_of(
            "MakeMove",
            (3, wire.StaleVersion.at(9)),
            (2, game_answer(doc())),
            (1, game_answer(doc())),
        )
        self.assertFalse(reports.outcome_fields(dissent)["provisional"])
        self.assertEqual(reports.outcome_fields(dissent)["differed"], [3])
        self.assertEqual(
            reports.servers_note(dissent),
            "note: answer of servers 1 and 2; server 3 answered differently",
        )
        failure = outcome_of(
            "MakeMove",
            (3, TimeoutError("no answer")),
            (2, game_answer(doc())),
            (1, game_answer(doc())),
        )
        self.assertEqual(reports.outcome_fields(failure)["failed"], [3])
        self.assertEqual(
            reports.servers_note(failure),
            "note: answer of servers 1 and 2; server 3 did not answer",
        )

    def test_refusal_message(self) -> None:
        refused = outcome_of(
            "MakeMove",
            (1, wire.IllegalMoveError("'9' is not connect4 notation")),
            (2, wire.IllegalMoveError("'9' is not connect4 notation")),
        )
        self.assertEqual(
            reports.refusal_message("move", refused),
            "move refused by the servers: ILLEGAL_MOVE ('9' is not connect4 notation)",
        )
        alone = outcome_of("MakeMove", (2, wire.NotYourTurn()))
        self.assertEqual(
            reports.refusal_message("move", alone),
            "move refused by the servers: NOT_YOUR_TURN (it is not this seat's turn); "
            "provisional: server 2 only, no majority",
        )

    def test_unreachable_message(self) -> None:
        self.assertEqual(
            reports.unreachable_message(default_config()),
            "no server reachable at 127.0.0.1:7301, 127.0.0.1:7302, 127.0.0.1:7303; "
            "start them with `replgame cluster`",
        )


class StatusOutputTests(SynchronousTestCase):
    config = default_config()

    def statuses(self, *specs: tuple[int, bool, bool, int, str]) -> list[ServerStatus]:
        return [
            ServerStatus(sid, reachable, serving, clock, 2, digest)
            if reachable
            else ServerStatus(sid, False, error="not connected")
            for sid, reachable, serving, clock, digest in specs
        ]

    def test_all_agree(self) -> None:
        statuses = self.statuses(*((i, True, True, 7, "ab" * 32) for i in (1, 2, 3)))
        text = reports.format_status(self.config, statuses)
        self.assertEqual(
            text.splitlines(),
            [
                "server  address         reachable  serving  clock  games  digest",
                "1       127.0.0.1:7301  yes        yes      7      2      abababababababab",
                "2       127.0.0.1:7302  yes        yes      7      2      abababababababab",
                "3       127.0.0.1:7303  yes        yes      7      2      abababababababab",
                "agree: yes, all 3 serve the same games at clock 7",
            ],
        )
        data = reports.status_json(self.config, statuses)
        self.assertEqual((data["agree"], data["provisional"]), (True, False))
        self.assertEqual(data["servers"][0]["digest"], "ab" * 32)

    def test_one_down_one_behind(self) -> None:
        statuses = self.statuses(
            (1, True, True, 7, "ab" * 32), (2, False, False, 0, ""), (3, True, True, 6, "cd" * 32)
        )
        text = reports.format_status(self.config, statuses)
        self.assertIn("2       127.0.0.1:7302  no         -        -      -      -", text)
        self.assertIn(
            "agree: no, server 2 unreachable, digests differ (server 1: abababababab; "
            "server 3: cdcdcdcdcdcd)",
            text,
        )
        self.assertIn("PROVISIONAL: no two serving servers hold the same games", text)
        self.assertTrue(reports.status_json(self.config, statuses)["provisional"])

    def test_not_serving_yet(self) -> None:
        statuses = self.statuses(
            (1, True, True, 7, "ab" * 32), (2, True, True, 7, "ab" * 32), (3, True, False, 0, "0")
        )
        agree, why, provisional = reports.status_summary(statuses)
        self.assertEqual((agree, why, provisional), (False, "server 3 not serving yet", False))


class GameReportTests(SynchronousTestCase):
    def test_a_majority_answer_is_the_text_then_the_board(self) -> None:
        outcome = outcome_of("MakeMove", (1, game_answer(doc())), (2, game_answer(doc())))
        text, data = reports.game_report(outcome, "played 4\n", {"seat": 0})
        self.assertEqual(text, "played 4\n\n" + boards.render_game(typed_doc()))
        self.assertEqual((data["game"], data["seat"], data["agreed"]), (doc(), 0, [1, 2]))

    def test_json_is_the_document_as_sent(self) -> None:
        """A field a later protocol version adds passes through ``--json``."""
        later = doc(rated=True)
        outcome = outcome_of("GetGame", (1, game_answer(later)), (2, game_answer(later)))
        text, data = reports.game_report(outcome, "")
        self.assertEqual(data["game"], later)
        self.assertEqual(text, boards.render_game(typed_doc()))

    def test_a_lone_answer_is_marked_and_noted(self) -> None:
        outcome = outcome_of("GetGame", (2, game_answer(doc())))
        text, data = reports.game_report(outcome, "", unreachable=[1, 3])
        self.assertEqual(text.splitlines()[0], "PROVISIONAL: only server 2 answered; no majority")
        self.assertEqual(
            text.splitlines()[-1], "note: answer of server 2; servers 1 and 3 unreachable"
        )
        self.assertEqual((data["provisional"], data["unreachable"]), (True, [1, 3]))

    def test_read_repair_note(self) -> None:
        self.assertEqual(
            reports.read_repair_note([3]),
            "read repair: server 3 answered differently and was asked to sync the game (SyncGame)",
        )
        self.assertIn(
            "servers 1 and 3 answered differently and were", reports.read_repair_note([1, 3])
        )

    def test_what_a_command_did(self) -> None:
        self.assertEqual(
            reports.created_text("reversi", "g1", "alice", 1),
            "created reversi game g1: you are alice (white, seat 1)\n"
            "another player joins with: replgame join g1 --as NAME\n",
        )
        self.assertEqual(
            reports.resigned_text(typed_doc(status="open"), "alice", 0),
            "alice (black) cancelled the game\n",
        )
        self.assertEqual(reports.resigned_text(typed_doc(), "bob", 1), "bob (white) resigned\n")
        self.assertEqual(
            reports.draw_text("offer", typed_doc(), "alice", 0),
            "alice (black) offered a draw; it stands until bob (white) accepts it "
            "(`replgame draw g1`) or makes a move\n",
        )


class WatchFrameTests(SynchronousTestCase):
    def update(self, provisional: bool = False, **fields: object) -> WatchUpdate:
        document = json.dumps(doc(**fields), sort_keys=True)
        agreed = (2,) if provisional else (1, 2)
        return WatchUpdate("g1", document, provisional, agreed, {2: 3, 1: 3})

    def test_a_frame(self) -> None:
        frame = reports.watch_frame(self.update(), [3], clear=False)
        self.assertEqual(frame.splitlines()[0], "-" * 40)
        self.assertEqual(
            frame.splitlines()[-1], "watching on servers 1: v3, 2: v3; server 3 unreachable"
        )
        self.assertNotIn("PROVISIONAL", frame)
        cleared = reports.watch_frame(self.update(True), [], clear=True)
        self.assertTrue(cleared.startswith(reports.CLEAR_SCREEN + "\n"))
        self.assertIn("PROVISIONAL: only server 2 holds this version; no majority", cleared)
        self.assertTrue(cleared.endswith("watching on servers 1: v3, 2: v3"))

    def test_json(self) -> None:
        data = reports.watch_json(self.update(True), [3])
        self.assertEqual(
            data,
            {"game": doc(), "provisional": True, "agreed": [2], "versions": {"1": 3, "2": 3},
             "unreachable": [3]},
        )  # fmt: skip

    def test_json_is_the_document_as_sent(self) -> None:
        data = reports.watch_json(self.update(rated=True), [])
        self.assertEqual(data["game"], doc(rated=True))

    def test_over_only_when_a_majority_holds_it_finished(self) -> None:
        self.assertFalse(reports.is_over(self.update()))
        self.assertFalse(reports.is_over(self.update(True, status="finished")))
        self.assertTrue(reports.is_over(self.update(status="finished")))


class GamesOutputTests(SynchronousTestCase):
    def listed(self, game_id: str, provisional: bool = False, **fields: object) -> ListedGame:
        summary = {"id": game_id, "kind": "connect4", "status": "active", "version": 3,
                   "players": ["alice", "bob"], **fields}  # fmt: skip
        return ListedGame(summary, provisional, (2,) if provisional else (1, 2, 3))

    def test_json_is_each_summary_as_sent(self) -> None:
        listed = [self.listed("g1", rated=True)]
        self.assertTrue(reports.games_json(listed, None, [])["games"][0]["rated"])
        self.assertEqual(
            reports.format_games(listed).splitlines()[1],
            "g1  connect4  active  3        alice vs bob",
        )

    def test_no_games(self) -> None:
        self.assertEqual(reports.format_games([]), "no games")
        self.assertEqual(
            reports.games_json([], None, []), {"games": [], "provisional": False, "unreachable": []}
        )

    def test_a_table(self) -> None:
        listed = [
            self.listed("g1"),
            self.listed("g22", status="open", version=1, players=["carol", None]),
        ]
        self.assertEqual(
            reports.format_games(listed).splitlines(),
            [
                "id   kind      status  version  players",
                "g1   connect4  active  3        alice vs bob",
                "g22  connect4  open    1        carol vs (open)",
                "2 games",
            ],
        )

    def test_mine_and_provisional(self) -> None:
        listed = [self.listed("g1", True)]
        text = reports.format_games(listed, {"g1": [0, 1]})
        self.assertEqual(
            text.splitlines(),
            [
                "id  kind      status  version  players       you",
                "g1  connect4  active  3        alice vs bob  seat 0 (black), seat 1 (white)"
                "  PROVISIONAL (server 2 only)",
                "1 game",
                "PROVISIONAL: 1 game(s) not listed alike by two servers; no majority",
            ],
        )
        data = reports.games_json(listed, {"g1": [1, 0]}, [3])
        self.assertEqual(
            data["games"][0],
            {"id": "g1", "kind": "connect4", "status": "active", "version": 3,
             "players": ["alice", "bob"], "provisional": True, "servers": [2], "mine": [0, 1]},
        )  # fmt: skip
        self.assertEqual((data["provisional"], data["unreachable"]), (True, [3]))
        self.assertEqual(listed[0].game.game_id, "g1")


class PurityTests(SynchronousTestCase):
    def test_no_twisted(self) -> None:
        """The reports load without Twisted (``replgame cluster`` and the
        commands share them; nothing here may wait or print)."""
        check = (
            "import sys, game.client.reports; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'twisted'))"
        )
        result = subprocess.run(
            [sys.executable, "-c", check], capture_output=True, text=True, timeout=60
        )
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "[]\n", ""))
