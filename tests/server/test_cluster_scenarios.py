"""Cluster scenarios on the in-process grid (:mod:`tests.server.grid`):
catch-up, rebuild, forks, read repair and anti-entropy with three real
servers and a real client on one Clock.

Each scenario ends with the three replicas holding the same documents,
clock, digest and anti-entropy tree.  The real-process versions of what
needs real processes (SIGKILL, SIGSTOP, twistd restarts, 10,000 games) stay
in ``tests/integration``.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game import protocol as p
from game.client.client import Outcome
from game.client.watching import WatchUpdate
from game.server.gamelog import JOIN, MOVE, OFFER_DRAW, Command
from tests.server.grid import SERVERS, Grid, Match, Party, parsed
from tests.server.helpers import TOKEN_A, TOKEN_B, TOKEN_C, long_checkers_line

TOKEN_D = "dave-token-0123456789"


class GridCase(SynchronousTestCase):
    def grid(self, **tuning: Any) -> Grid:
        grid = Grid(self, **tuning)
        grid.start()
        return grid

    def refused(self, grid: Grid, server_id: int, command: type[p.Command], **kwargs: Any) -> str:
        """Ask one server directly; it must answer with an error: its tag."""
        answers: list[Any] = []
        grid.client.links[server_id].call(command, **kwargs).addBoth(answers.append)
        grid.quiet()
        self.assertEqual(len(answers), 1, f"server {server_id} did not answer")
        error = answers[0].value
        self.assertIsInstance(error, wire.WireError, answers[0])
        return tag_of(error)

    def tags(self, grid: Grid, command: type[p.Command], **kwargs: Any) -> dict[int, str]:
        """Every server's error tag for one request through the client."""
        answers = grid.answer(grid.client.ask_each(command, **kwargs))
        return {i: tag_of(answer) for i, answer in answers.items()}

    def assert_all_answered(self, grid: Grid, outcome: Outcome) -> None:
        """The request reached all three and left them holding the same games
        (the third answer may arrive after the two that decided)."""
        self.assertFalse(outcome.provisional)
        self.assertEqual(sorted(outcome.agreed + outcome.pending), list(SERVERS))
        grid.assert_converged(self)
        self.assertNotIn("read repair", grid.log.text())


def tag_of(answer: object) -> str:
    """The tag of a wire error, as PROTOCOL.md spells it."""
    if isinstance(answer, wire.WireError):
        return answer.tag.decode() if isinstance(answer.tag, bytes) else str(answer.tag)
    return repr(answer)


class CatchUpTests(GridCase):
    def test_a_server_that_was_down_catches_up_before_serving(self) -> None:
        grid = self.grid()
        game = Match(grid, "g1")
        game.start()
        game.moves("4", "4", "3")
        other = Match(grid, "g2", "reversi")
        other.start()

        grid.stop(3)
        game.moves("5", "2", "6")  # acknowledged by servers 1 and 2
        other.moves("d3", "c3")
        third = Match(grid, "g3", "checkers")
        third.start()
        self.assertEqual(grid.client.active, [1, 2])
        self.assertEqual(game.version, 8)

        restarted_at = len(grid.log.lines)
        node = grid.start_server(3)
        grid.run_until(lambda: node.serving, limit=5)
        log = grid.log.lines[restarted_at:]
        caught_up = [n for n, line in enumerate(log) if "caught up with server" in line]
        self.assertTrue(caught_up, "\n".join(log))
        self.assertLess(caught_up[0], next(n for n, line in enumerate(log) if "serving" in line))
        documents = grid.assert_converged(self)
        for match in (game, other, third):
            self.assertEqual(parsed(documents[match.game_id]), match.doc)
        # Play goes on through all three.
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        outcome = game.outcome(grid.client.make_move("g1", game.version, "1", game.mover_token()))
        self.assert_all_answered(grid, outcome)

    def test_a_restarted_server_does_not_serve_until_its_paused_peers_answer(self) -> None:
        # startup_wait above the time the peers stay paused: a restarted server
        # with an existing database may serve alone once it has passed.
        grid = self.grid(startup_wait=10, catchup_timeout=2, heartbeat=2)
        game = Match(grid, "g1")
        game.start()
        grid.stop(3)
        game.moves("4", "4")
        grid.pause(1)
        grid.pause(2)
        node = grid.start_server(3)
        restarted_at = grid.clock.seconds()
        for _ in range(2):  # at once, and again after a catch-up timeout went by
            grid.run_until(lambda: 3 in grid.client.active, limit=5)
            self.assertFalse(node.serving)
            self.assertEqual(self.refused(grid, 3, p.GetGame, game_id="g1"), "NOT_SERVING")
            grid.run(2.5)
        self.assertLess(grid.clock.seconds() - restarted_at, 10)

        grid.resume(1)
        grid.resume(2)
        grid.run_until(lambda: node.serving, limit=5)
        self.assertIn("caught up with server", grid.log.text())
        self.assertEqual(parsed(grid.assert_converged(self)["g1"]), game.doc)

    def test_a_wiped_server_is_rebuilt_from_its_peers(self) -> None:
        grid = self.grid()
        matches = []
        for n, (kind, moves) in enumerate(
            [
                ("connect4", ["4", "4", "5"]),
                ("reversi", ["d3", "c3", "c4"]),
                ("checkers", ["11-15", "23-19"]),
                ("connect4", []),
                ("connect4", ["1", "2", "1", "2", "1", "2", "1"]),  # won
            ]
        ):
            match = Match(grid, f"g{n}", kind)
            match.start()
            match.moves(*moves)
            matches.append(match)
        self.assertEqual(matches[-1].doc["status"], "finished")
        resigned = Match(grid, "resigned", "reversi")
        resigned.start()
        resigned.acknowledged(grid.client.resign("resigned", resigned.version, TOKEN_A))
        open_game = Match(grid, "open", "checkers")
        open_game.create()
        matches += [resigned, open_game, self.long_checkers_game(grid)]
        before = grid.summary(1)

        grid.stop(3)
        grid.wipe(3)
        node = grid.start_server(3)
        grid.run_until(lambda: node.serving, limit=10)
        log = grid.log.text()
        self.assertIn("a new database", log)
        self.assertIn(f"rebuilt {len(matches)} game(s)", log)
        documents = grid.assert_converged(self)
        self.assertEqual(grid.summary(3), before)
        for match in matches:
            self.assertEqual(parsed(documents[match.game_id]), match.doc)
        # The rebuilt server plays on like the others.
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        pages = grid.answer(
            grid.client.ask_each(p.ListGames, status="", kind="", player="", limit=50, after="")
        )
        self.assertEqual(len(pages[3]["games"]), len(matches))
        self.assertEqual(pages[1], pages[3])
        self.assertEqual(pages[2], pages[3])
        outcome = matches[0].outcome(
            grid.client.make_move("g0", matches[0].version, "5", matches[0].mover_token())
        )
        self.assert_all_answered(grid, outcome)

    def long_checkers_game(self, grid: Grid) -> Match:
        """A checkers game with a draw offer every other ply: a history too big
        for one PeerDump line, so a rebuild fetches it with PeerEvents.

        Played straight on the three replicas, one commit each (165 requests
        through the client would cost 500 commits)."""
        for server_id in SERVERS:
            replica = grid.node(server_id).replica
            replica.create("long", "checkers", "alice", 0, TOKEN_A)
            replica.apply("long", Command(JOIN, 1, TOKEN_B, player="bobby"))
            for ply, move in enumerate(long_checkers_line(110)):
                token = (TOKEN_A, TOKEN_B)[ply % 2]
                if ply % 2 == 0:
                    replica.apply("long", Command(OFFER_DRAW, self.version(grid, server_id), token))
                replica.apply(
                    "long", Command(MOVE, self.version(grid, server_id), token, move=move)
                )
        grid.quiet()
        match = Match(grid, "long", "checkers")
        match.doc = parsed(grid.answer(grid.client.get_game("long")).document)
        self.assertEqual(match.version, 2 + 110 + 55)
        self.assertGreater(match.version * 100, p.LIST_BUDGET // 4)
        return match

    def version(self, grid: Grid, server_id: int) -> int:
        game = grid.node(server_id).replica.game("long")
        assert game is not None
        return game.version

    def test_a_command_at_a_later_version_catches_up(self) -> None:
        grid = self.grid()
        game = Match(grid, "g1")
        game.start()
        stale = dict(game.doc)
        grid.cut("client", 3)
        game.move("4")  # servers 1 and 2 only
        grid.heal()
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        self.assertEqual(grid.node(3).status()["clock"], grid.node(1).status()["clock"] - 1)

        # Bob answers at the new version on all three: server 3 catches up first.
        outcome = game.outcome(grid.client.make_move("g1", game.version, "3", TOKEN_B))
        self.assert_all_answered(grid, outcome)
        self.assertEqual(parsed(outcome.document)["version"], stale["version"] + 2)
        self.assertEqual(parsed(outcome.document)["moves"], ["4", "3"])

        # A game server 3 never heard of: any command naming it catches it up.
        grid.cut("client", 3)
        unheard = Match(grid, "unheard", "checkers")
        unheard.start()
        other = Match(grid, "other", "reversi")
        other.start()
        other.move("d3")
        grid.heal()
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        answer = grid.answer(grid.client.links[3].call(p.GetGame, game_id="unheard"))
        self.assertEqual(parsed(answer["game"]), unheard.doc)
        outcome = other.outcome(grid.client.make_move("other", other.version, "c5", TOKEN_A))
        self.assert_all_answered(grid, outcome)  # at version 4, which server 3 lacked
        # An id no server knows stays unknown.
        self.assertEqual(
            self.tags(grid, p.GetGame, game_id="no-such-game"),
            {i: "UNKNOWN_GAME" for i in SERVERS},
        )

    def test_catch_up_is_bounded_by_catchup_timeout(self) -> None:
        grid = self.grid(catchup_timeout=2)
        game = Match(grid, "g1")
        game.start()
        grid.cut("client", 3)
        game.move("4")
        unheard = Match(grid, "unheard", "reversi")
        unheard.start()
        grid.heal()
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)

        grid.pause(1)
        grid.pause(2)
        link = grid.client.links[3]
        answers: list[Any] = []
        asked_at = grid.clock.seconds()
        link.call(p.MakeMove, game_id="g1", version=game.version, move="3", token=TOKEN_B).addBoth(
            answers.append
        )
        link.call(p.GetGame, game_id="unheard").addBoth(answers.append)
        grid.run_until(lambda: len(answers) == 2, limit=5)
        self.assertAlmostEqual(grid.clock.seconds() - asked_at, 2)
        self.assertEqual([tag_of(a.value) for a in answers], ["BEHIND", "UNKNOWN_GAME"])
        grid.resume(1)
        grid.resume(2)

        # With the peers back, the same command catches up and succeeds; a
        # version that no server holds still answers BEHIND.
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=10)
        self.assertEqual(game.move("3")["moves"], ["4", "3"])
        self.assertEqual(
            self.tags(grid, p.MakeMove, game_id="g1", version=game.version + 5, move="5",
                      token=TOKEN_A),
            {i: "BEHIND" for i in SERVERS},
        )  # fmt: skip
        answer = game.outcome(grid.client.get_game("unheard"))
        self.assertEqual(parsed(answer.document), unheard.doc)
        self.assert_all_answered(grid, answer)


class ForkTests(GridCase):
    def test_racing_joins_converge_on_one_player(self) -> None:
        grid = self.grid(anti_entropy_interval=1)
        game = Match(grid, "g1")
        created = game.create()
        links = grid.client.links

        grid.isolate(3)
        # One join reaches server 1 only, the other server 2 only.
        anna = grid.answer(
            links[1].call(p.JoinGame, game_id="g1", version=1, player="anna", token=TOKEN_C)
        )
        bert = grid.answer(
            links[2].call(p.JoinGame, game_id="g1", version=1, player="bert", token=TOKEN_D)
        )
        self.assertNotEqual(anna, bert)  # a fork at version 2
        grid.run(1.5)  # anti-entropy between 1 and 2 must wait for server 3
        self.assertNotEqual(grid.documents(1), grid.documents(2))
        grid.heal()

        grid.run_until(grid.converged, limit=5)
        documents = grid.assert_converged(self)
        doc = parsed(documents["g1"])
        self.assertEqual((doc["version"], doc["status"]), (2, "active"))
        self.assertEqual(doc["players"][0], created["players"][0])
        self.assertIn(doc["players"][1], ("anna", "bert"))
        seated, unseated = (
            (("anna", TOKEN_C), ("bert", TOKEN_D))
            if doc["players"][1] == "anna"
            else (("bert", TOKEN_D), ("anna", TOKEN_C))
        )

        # The winner's join repeats (answered with the current game); the
        # loser's is refused everywhere.
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        repeat = game.outcome(grid.client.join_game("g1", 1, *seated))
        self.assertEqual(parsed(repeat.document), doc)
        self.assert_all_answered(grid, repeat)
        self.assertEqual(
            self.tags(grid, p.JoinGame, game_id="g1", version=1, player=unseated[0],
                      token=unseated[1]),
            {i: "STALE_VERSION" for i in SERVERS},
        )  # fmt: skip
        game.doc = doc
        game.acknowledged(grid.client.make_move("g1", 2, "4", TOKEN_A))
        game.acknowledged(grid.client.make_move("g1", 3, "4", seated[1]))
        self.assertEqual(game.version, 4)
        grid.assert_converged(self)

    def test_the_acknowledged_branch_beats_a_longer_provisional_one(self) -> None:
        grid = self.grid(anti_entropy_interval=1)
        game = Match(grid, "g1")
        game.start()
        game.moves("4", "4")
        before = dict(game.doc)
        spectator = grid.add_client("spectator")  # watches server 1, the one that will lose
        for server_id in (2, 3):
            grid.cut("spectator", server_id)
        seen: list[list[str]] = []

        def update(view: WatchUpdate) -> None:
            seen.append(parsed(view.document)["moves"])

        spectator.watch("g1", update)
        grid.quiet()

        # Server 1 alone takes "1" for alice, and three more moves after it: a
        # provisional branch four events long.
        grid.stop(2)
        grid.stop(3)
        provisional = Match(grid, "g1", doc=dict(before))
        for move in ("1", "1", "1", "2"):
            outcome = provisional.outcome(
                grid.client.make_move("g1", provisional.version, move, provisional.mover_token())
            )
            self.assertEqual((outcome.agreed, outcome.provisional), ((1,), True))
            provisional.doc = parsed(outcome.document)

        # Servers 2 and 3 come back without server 1, and acknowledge "7" at
        # the same version.
        apart: list[tuple[Party, Party]] = [(1, 2), (1, 3), (1, "client")]
        for a, b in apart:
            grid.cut(a, b)
        for server_id in (2, 3):
            grid.start_server(server_id)
        grid.run_until(lambda: grid.serving() == [1, 2, 3], limit=10)
        grid.run_until(lambda: grid.client.active == [2, 3], limit=5)
        acknowledged = game.move("7")

        for a, b in apart:
            grid.uncut(a, b)
        grid.run_until(grid.converged, limit=6)
        documents = grid.assert_converged(self)
        self.assertEqual(parsed(documents["g1"]), acknowledged)
        self.assertIn("adopted the branch that won by majority", grid.log.text())
        # The spectator saw the provisional branch, then the acknowledged one.
        self.assertIn(["4", "4", "1", "1", "1", "2"], seen)
        self.assertEqual(seen[-1], acknowledged["moves"])

        # Play goes on from the acknowledged branch on all three.
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        outcome = game.outcome(grid.client.make_move("g1", game.version, "3", TOKEN_B))
        self.assertEqual(sorted(outcome.agreed + outcome.pending), list(SERVERS))
        self.assertEqual(
            self.tags(grid, p.MakeMove, game_id="g1", version=before["version"] + 1, move="1",
                      token=TOKEN_B),
            {i: "STALE_VERSION" for i in SERVERS},
        )  # fmt: skip


class RepairTests(GridCase):
    def lagging_game(self, grid: Grid) -> tuple[Match, dict[str, Any]]:
        """A started Connect Four game whose move "4" reached servers 1 and 2 only."""
        game = Match(grid, "g1")
        game.start()
        stale = dict(game.doc)
        grid.cut("client", 3)
        game.move("4")
        grid.heal()
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        return game, stale

    def test_read_repair_after_a_stale_answer(self) -> None:
        grid = self.grid()
        game, stale = self.lagging_game(grid)
        grid.run(30)  # without anti-entropy, server 3 stays behind
        self.assertEqual(parsed(grid.documents(3)["g1"]), stale)

        outcome = game.outcome(grid.client.get_game("g1"))
        # Decided by servers 1 and 2; server 3's stale answer came after.
        self.assertEqual((outcome.agreed, outcome.pending), ((1, 2), (3,)))
        self.assertEqual(parsed(outcome.document), game.doc)
        self.assertIn("read repair: server 3", grid.log.text())  # SyncGame sent to it
        self.assertEqual(parsed(grid.assert_converged(self)["g1"]), game.doc)
        answers = grid.answer(grid.client.ask_each(p.GetGame, game_id="g1"))
        self.assertEqual({i: parsed(a["game"]) for i, a in answers.items()},
                         {i: game.doc for i in SERVERS})  # fmt: skip

    def test_sync_game_repairs_a_missed_move(self) -> None:
        grid = self.grid()
        game, stale = self.lagging_game(grid)
        lagging = grid.answer(grid.client.links[3].call(p.GetGame, game_id="g1"))
        self.assertEqual(parsed(lagging["game"]), stale)
        synced = grid.answer(grid.client.links[3].call(p.SyncGame, game_id="g1"))
        self.assertEqual(parsed(synced["game"]), game.doc)
        self.assertEqual(game.version, stale["version"] + 1)
        grid.assert_converged(self)

    def test_anti_entropy_repairs_a_missed_move(self) -> None:
        grid = self.grid(anti_entropy_interval=1)
        game = Match(grid, "g1")
        game.start()
        spectator = grid.add_client("spectator")  # watches the lagging server only
        for server_id in (1, 2):
            grid.cut("spectator", server_id)
        seen: list[WatchUpdate] = []
        spectator.watch("g1", seen.append)
        grid.cut("client", 3)
        game.move("4")

        # No client request names the game on server 3.
        took = grid.run_until(grid.converged, limit=3 * 1)
        self.assertLessEqual(took, 3)
        self.assertIn("anti-entropy repaired 1 game(s)", grid.log.text())
        self.assertEqual(parsed(grid.assert_converged(self)["g1"]), game.doc)
        # Changes adopted from peers are announced to watchers too.
        self.assertEqual(parsed(seen[-1].document), game.doc)

    def test_replicas_converge_after_a_partition(self) -> None:
        grid = self.grid(anti_entropy_interval=1)
        matches = [Match(grid, f"g{n}", kind) for n, kind in enumerate(["connect4"] * 3)]
        for match in matches:
            match.start()
        grid.isolate(3)
        for match in matches:
            match.moves("4", "3", "4")
        late = Match(grid, "late", "reversi")
        late.start()
        grid.heal()
        grid.run_until(grid.converged, limit=5)
        documents = grid.assert_converged(self)
        for match in (*matches, late):
            self.assertEqual(parsed(documents[match.game_id]), match.doc)

    def test_idle_peer_links_stay_up(self) -> None:
        """A server closes connections silent for three heartbeats: peer links
        beat on their own between anti-entropy rounds."""
        grid = self.grid(heartbeat=0.5)
        dials = dict(grid.dials)
        started = len(grid.log.lines)
        grid.run(10)  # twenty heartbeats with no client traffic at all
        self.assertEqual(grid.dials, dials)
        idle = "\n".join(grid.log.lines[started:])
        self.assertNotIn("silent for", idle)
        self.assertNotIn("lost; redialling", idle)
        for server_id in SERVERS:
            links = grid.node(server_id).links
            self.assertTrue(all(link.ready for link in links.values()))


class GridTests(GridCase):
    """The grid itself: what it does to a server is what it says."""

    def test_a_stopped_server_is_refused_and_restarts_from_its_data(self) -> None:
        grid = self.grid()
        Match(grid, "g1").start()
        before = grid.documents(3)
        grid.stop(3)
        dials = grid.dials.get(("client", 3), 0)
        grid.run(3)
        self.assertGreater(grid.dials["client", 3], dials)  # redialled, refused
        self.assertEqual(grid.client.active, [1, 2])
        node = grid.start_server(3)
        self.assertEqual(grid.documents(3), before)
        grid.run_until(lambda: node.serving and grid.client.active == list(SERVERS), limit=10)

    def test_a_paused_server_answers_once_resumed(self) -> None:
        grid = self.grid()
        grid.pause(2)
        answers: list[Any] = []
        grid.client.links[2].call(p.Status).addBoth(answers.append)
        grid.run(1)
        self.assertEqual(answers, [])
        grid.resume(2)
        self.assertEqual(answers[0]["server_id"], 2)
