"""Takebacks and rematches on the game screen, through the controller over a
fake client: which buttons show for which document and seat, the request
each sends, the notices, and the switch to the new game of an accepted
rematch (both sides) with its seat kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from game import errors as wire
from game.client.client import Outcome
from game.client.majority import Decision
from game.client.tokens import Seat, TokenStore
from game.client_gui import palette as colour
from game.client_gui.controller import Controller
from game.client_gui.notices import OFFER_REFUSALS
from game.client_gui.scene import Action, Scene
from tests.client_gui.helpers import HEIGHT, WIDTH, document, ok, refused, text, timed
from tests.client_gui.offer_helpers import (
    NEW_GAME,
    OfferClient,
    finished_game,
    rematch_game,
    taken_back,
    with_rematch,
    with_takeback,
)
from tests.client_gui.test_controller import ControllerTestCase

OFFER_ACTIONS = (
    "takeback",
    "accept-takeback",
    "decline-takeback",
    "rematch",
    "accept-rematch",
    "decline-rematch",
    "open-rematch",
)


def no_answer() -> Any:
    return Outcome("X", Decision(None, False, (), (), (), ()))


class OfferTestCase(ControllerTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.client = OfferClient(self.clock)
        self.store = TokenStore(Path(self.mktemp()) / "seats.json")
        self.controller = Controller(self.client, self.store, "alice", self.clock)  # type: ignore[arg-type]
        self.cluster = self.client.config.cluster_id

    def scene(self) -> Scene:
        return self.controller.scene(WIDTH, HEIGHT)

    def offer(self, doc: dict[str, Any], servers: tuple[int, ...] = (1, 2, 3)) -> None:
        """The servers' watch updates, until the game is no longer watched
        (the screen switched to a rematch)."""
        for server_id in servers:
            watch = self.client.watches.get(doc["id"])
            if watch is not None:
                watch.offer(server_id, text(doc))

    def card_text(self) -> str:
        """The text of the offer's card, its lines joined."""
        scene = self.scene()
        [card] = [box.rect for box in scene.base.boxes if box.colour == colour.OFFER_CARD]
        inside = [label.text for label in scene.base.labels if card.contains(label.x, label.y)]
        return " ".join(inside)

    def offer_buttons(self) -> dict[str, bool]:
        """The offers' buttons shown, by action name: enabled or not."""
        return {
            button.action.name: button.enabled
            for button in self.scene().base.buttons
            if button.action.name in OFFER_ACTIONS
        }

    def click(self, name: str) -> None:
        x, y = self.scene().button(name).rect.centre
        self.controller.click(x, y, WIDTH, HEIGHT)

    @property
    def notice(self) -> str:
        assert self.controller.game is not None
        return self.controller.game.notice

    def card_colours(self) -> list[tuple[int, int, int]]:
        return [box.colour for box in self.scene().base.boxes if box.colour == colour.OFFER_CARD]


class TakebackButtonTests(OfferTestCase):
    def test_take_back_once_the_player_has_a_move(self) -> None:
        self.open(document("connect4", ("4",)), seat=1)  # bob's move only
        self.assertEqual(self.offer_buttons(), {"takeback": False})
        self.open(document("connect4", ("4",)), seat=0)
        self.assertEqual(self.offer_buttons(), {"takeback": True})
        self.assertIn("Take back", self.scene().texts())
        self.assertEqual(self.card_colours(), [])
        self.open(document("connect4", ("4", "4")), seat=1)
        self.assertEqual(self.offer_buttons(), {"takeback": True})

    def test_none_in_timed_open_or_finished_games_nor_for_watchers(self) -> None:
        self.open(timed(document("connect4", ("4", "4"))), seat=0)
        self.assertEqual(self.offer_buttons(), {})
        self.assertNotIn("Take back", self.scene().texts())
        self.open(document("connect4", players=("alice", None)), seat=0)
        self.assertEqual(self.offer_buttons(), {})
        self.open(document("connect4", ("4", "4")), seat=None)
        self.assertEqual(self.offer_buttons(), {})
        self.open(finished_game(), seat=0)
        self.assertNotIn("takeback", self.offer_buttons())

    def test_the_opponent_s_offer(self) -> None:
        self.open(with_takeback(document("connect4", ("4", "4")), 1), seat=0)
        self.assertEqual(self.offer_buttons(), {"accept-takeback": True, "decline-takeback": True})
        self.assertEqual(self.card_text(), "bob asks to take back their last move")
        texts = self.scene().texts()
        self.assertIn("Accept take back", texts)
        self.assertIn("Decline", texts)
        self.assertEqual(self.card_colours(), [colour.OFFER_CARD])
        self.assertEqual(self.scene().button("accept-takeback").colour, colour.BUTTON_ACCEPT)
        # A watcher sees the offer, with no buttons.
        self.open(with_takeback(document("connect4", ("4", "4")), 1), seat=None)
        self.assertEqual(self.offer_buttons(), {})
        self.assertEqual(self.card_colours(), [colour.OFFER_CARD])

    def test_one_s_own_offer_waits(self) -> None:
        self.open(with_takeback(document("connect4", ("4", "4")), 0), seat=0)
        self.assertEqual(self.offer_buttons(), {"decline-takeback": True})
        self.assertEqual(self.card_text(), "Take back offered \u2014 waiting")
        self.assertIn("Withdraw", self.scene().texts())

    def test_buttons_wait_for_a_pending_request(self) -> None:
        self.open(document("connect4", ("4", "4")), seat=0)
        self.click("takeback")
        self.assertEqual(self.offer_buttons(), {"takeback": False})


class TakebackActionTests(OfferTestCase):
    def test_offer(self) -> None:
        doc = document("connect4", ("4", "4", "3"))
        self.open(doc, seat=0)
        self.click("takeback")
        arguments, answer = self.client.pop("offer_takeback")
        self.assertEqual(arguments, {"game_id": "g1", "version": 5, "token": "t" * 32})
        answer.callback(ok(with_takeback(doc, 0)))
        self.assertEqual(
            self.notice,
            "You asked to take back your last move; it stands until bob accepts or declines "
            "it, or a move is made.",
        )
        self.assertEqual(self.offer_buttons(), {"decline-takeback": True})

    def test_accept_goes_back(self) -> None:
        doc = with_takeback(document("connect4", ("4", "4", "3")), 0)
        self.open(doc, seat=1)
        self.click("accept-takeback")
        arguments, answer = self.client.pop("accept_takeback")
        self.assertEqual(arguments, {"game_id": "g1", "version": 6, "token": "t" * 32})
        answer.callback(ok(taken_back(doc, 1, 1)))
        self.assertEqual(self.notice, "You accepted: alice took back 1 move.")
        self.assertEqual(self.shown["moves"], ["4", "4"])
        self.assertEqual(self.scene().cell("c3r1").piece, colour.C4_HOLE)
        self.assertEqual(self.offer_buttons(), {"takeback": True})

    def test_decline_and_withdraw(self) -> None:
        doc = document("connect4", ("4", "4"))
        self.open(with_takeback(doc, 1), seat=0)
        self.click("decline-takeback")
        arguments, answer = self.client.pop("decline_takeback")
        self.assertEqual(arguments["version"], 5)
        answer.callback(ok({**doc, "version": 6}))
        self.assertEqual(self.notice, "You declined bob's takeback offer.")
        self.open(with_takeback(doc, 0), seat=0)
        self.click("decline-takeback")
        _, answer = self.client.pop("decline_takeback")
        answer.callback(ok({**doc, "version": 6}))
        self.assertEqual(self.notice, "You withdrew your takeback offer.")

    def test_each_refusal_says_what_it_means(self) -> None:
        doc = document("connect4", ("4", "4"))
        self.open(doc, seat=0)
        for error in (wire.TimedGame(), wire.NothingToTakeBack(), wire.TakebackPending()):
            self.controller.perform(Action("takeback"))
            _, answer = self.client.pop("offer_takeback")
            answer.callback(refused(error))
            tag = error.tag.decode()
            self.assertEqual(
                self.notice,
                f"Offering a takeback refused by the servers: {tag} ({OFFER_REFUSALS[tag]})",
            )
            self.client.pop("get_game")  # the board is read again

    def test_the_opponent_offers_accepts_declines_withdraws(self) -> None:
        doc = document("connect4", ("4", "4", "3"))
        self.open(doc, seat=0)
        self.offer(with_takeback(doc, 1))
        self.assertEqual(self.notice, "bob asks to take back their last move")
        self.offer({**doc, "version": doc["version"] + 2})  # offered, then withdrawn
        self.assertEqual(self.notice, "bob withdrew their takeback offer")
        offered = with_takeback(doc, 0, 3)
        self.offer(offered)
        self.assertEqual(self.notice, "")  # one's own offer, made elsewhere: no news
        self.offer({**doc, "version": offered["version"] + 1})
        self.assertEqual(self.notice, "bob declined your takeback offer")
        mine = with_takeback(doc, 0, 5)
        self.offer(mine)
        self.offer(taken_back(mine, 1, 1))
        self.assertEqual(self.notice, "bob accepted your takeback: 1 move taken back")
        self.assertEqual(self.shown["moves"], ["4", "4"])

    def test_a_watcher_reads_the_takeback(self) -> None:
        doc = with_takeback(document("connect4", ("4", "4", "3")), 1)
        self.open(doc, seat=None)
        self.offer(taken_back(doc, 2, 1))
        self.assertEqual(self.notice, "bob took back 2 moves")


class RematchButtonTests(OfferTestCase):
    def test_rematch_on_a_finished_game_with_two_players(self) -> None:
        self.open(finished_game(), seat=1)
        self.assertEqual(self.offer_buttons(), {"rematch": True})
        self.assertIn("Rematch", self.scene().texts())
        self.open(finished_game(), seat=None)
        self.assertEqual(self.offer_buttons(), {})
        cancelled = document(
            "connect4", players=("alice", None), result={"winner": None, "reason": "cancelled"}
        )
        self.open(cancelled, seat=0)
        self.assertEqual(self.offer_buttons(), {})
        self.open(with_rematch(finished_game(), 1, "declined", 2), seat=0)
        self.assertEqual(self.offer_buttons(), {"rematch": True})

    def test_the_opponent_s_offer_and_one_s_own(self) -> None:
        self.open(with_rematch(finished_game(), 1), seat=0)
        self.assertEqual(self.offer_buttons(), {"accept-rematch": True, "decline-rematch": True})
        self.assertEqual(self.card_text(), "bob offers a rematch: you play white")
        self.assertIn("Accept rematch", self.scene().texts())
        self.assertEqual(self.card_colours(), [colour.OFFER_CARD])
        self.open(with_rematch(finished_game(), 1), seat=1)
        self.assertEqual(self.offer_buttons(), {"decline-rematch": True})
        self.assertEqual(self.card_text(), "Rematch offered \u2014 waiting")
        self.assertIn("Withdraw", self.scene().texts())
        self.open(with_rematch(finished_game(), 1), seat=None)
        self.assertEqual(self.offer_buttons(), {})
        self.assertEqual(self.card_text(), "bob offers alice a rematch")


class RematchActionTests(OfferTestCase):
    def test_the_offerer_keeps_its_seat_and_follows_the_accept(self) -> None:
        old = finished_game()
        self.open(old, seat=0)
        self.click("rematch")
        arguments, answer = self.client.pop("offer_rematch")
        new_id, token = arguments["rematch_id"], arguments["rematch_token"]
        self.assertRegex(new_id, "^[0-9a-f]{32}$")
        self.assertEqual((arguments["version"], arguments["token"]), (old["version"], "t" * 32))
        self.assertEqual(self.store.find(self.cluster, new_id), [])
        answer.callback(ok(with_rematch(old, 0, game=new_id)))
        [stored] = self.store.find(self.cluster, new_id)
        self.assertEqual((stored.seat, stored.token, stored.player), (1, token, "alice"))
        self.assertEqual(stored.kind, "connect4")
        self.assertEqual(
            self.notice,
            "You offered a rematch (you would play white); it stands until bob accepts or "
            "declines it.",
        )
        self.assertEqual(self.offer_buttons(), {"decline-rematch": True})
        # Bob accepts: the old game's watch shows it, and the new game opens.
        self.offer(with_rematch(old, 0, "accepted", 2, game=new_id))
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.game_id, game.seat, game.token), (new_id, 1, token))
        self.assertEqual(list(self.client.watches), [new_id])
        self.assertEqual(self.notice, "Rematch: you play white in this new game.")
        _, read = self.client.pop("get_game")
        read.callback(ok(rematch_game(old, new_id)))
        scene = self.scene()
        self.assertIn("You: white", scene.texts()[0])
        self.assertEqual(scene.cell("c4r1").piece, colour.C4_HOLE)
        self.assertIn("bob (black) to move", scene.texts())

    def test_an_unanswered_offer_is_repeated_as_the_same_request(self) -> None:
        self.open(finished_game(), seat=0)
        self.click("rematch")
        first, answer = self.client.pop("offer_rematch")
        answer.callback(no_answer())
        self.assertEqual(self.store.seats(), [])
        self.click("rematch")
        second, _ = self.client.pop("offer_rematch")
        self.assertEqual(first, second)

    def test_the_accepter_switches_by_the_answer(self) -> None:
        old = with_rematch(finished_game(), 1)
        self.open(old, seat=0)
        self.click("accept-rematch")
        arguments, answer = self.client.pop("accept_rematch")
        self.assertEqual((arguments["version"], arguments["token"]), (old["version"], "t" * 32))
        token = arguments["rematch_token"]
        answer.callback(ok(rematch_game(old)))
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.game_id, game.seat, game.token), (NEW_GAME, 1, token))
        [stored] = self.store.find(self.cluster, NEW_GAME)
        self.assertEqual((stored.seat, stored.token), (1, token))
        self.assertEqual(list(self.client.watches), [NEW_GAME])
        self.assertEqual(self.notice, "Rematch accepted: you play white in this new game.")
        self.assertEqual(self.client.calls, [])  # the answer is the new game: nothing to read
        self.assertEqual(self.shown["rematch_of"], "g1")
        self.assertEqual(self.scene().cell("c4r1").piece, colour.C4_HOLE)

    def test_the_accepter_whose_answer_was_lost_switches_by_the_watch(self) -> None:
        old = with_rematch(finished_game(), 1)
        self.open(old, seat=0)
        self.click("accept-rematch")
        arguments, answer = self.client.pop("accept_rematch")
        answer.callback(no_answer())
        self.offer(with_rematch(finished_game(), 1, "accepted", 2))
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.game_id, game.token), (NEW_GAME, arguments["rematch_token"]))
        [stored] = self.store.find(self.cluster, NEW_GAME)
        self.assertEqual(stored.token, arguments["rematch_token"])

    def test_decline_and_withdraw(self) -> None:
        old = finished_game()
        self.open(with_rematch(old, 1), seat=0)
        self.click("decline-rematch")
        arguments, answer = self.client.pop("decline_rematch")
        self.assertEqual(arguments["version"], old["version"] + 1)
        answer.callback(ok(with_rematch(old, 1, "declined", 2)))
        self.assertEqual(self.notice, "You declined bob's rematch offer.")
        self.assertEqual(self.offer_buttons(), {"rematch": True})
        self.open(with_rematch(old, 0), seat=0)
        self.click("decline-rematch")
        _, answer = self.client.pop("decline_rematch")
        answer.callback(ok(with_rematch(old, 0, "declined", 2)))
        self.assertEqual(self.notice, "You withdrew your rematch offer.")

    def test_news_of_the_opponent(self) -> None:
        old = finished_game()
        self.open(old, seat=0)
        self.offer(with_rematch(old, 1))
        self.assertEqual(self.notice, "bob offers a rematch: you play white")
        self.offer(with_rematch(old, 1, "declined", 2))
        self.assertEqual(self.notice, "bob withdrew their rematch offer")
        self.offer(with_rematch(old, 0, events=3))
        self.offer(with_rematch(old, 0, "declined", 4))
        self.assertEqual(self.notice, "bob declined your rematch offer")
        self.assertEqual(self.client.calls, [])

    def test_a_game_whose_rematch_was_accepted_stays_until_asked(self) -> None:
        accepted = with_rematch(finished_game(), 1, "accepted", 2)
        self.open(accepted, seat=0)  # opened later, from the lobby: no switch
        self.assertEqual(self.controller.game.game_id, "g1")  # type: ignore[union-attr]
        self.assertEqual(self.card_text(), "Rematch accepted: game nnnnnnnn")
        self.assertEqual(self.offer_buttons(), {"open-rematch": True})
        # No seat kept here for the new game: it is watched.
        self.click("open-rematch")
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.game_id, game.seat), (NEW_GAME, None))
        self.assertIn("You hold no seat in this rematch", self.notice)
        # With the seat in the token store, it is the player's.
        self.store.add(Seat(self.cluster, NEW_GAME, 1, "alice", "k" * 32, "connect4"))
        self.open(accepted, seat=0)
        self.click("open-rematch")
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.game_id, game.seat, game.token), (NEW_GAME, 1, "k" * 32))
        self.assertEqual(self.notice, "Rematch: you play white in this new game.")

    def test_refusals_say_what_they_mean(self) -> None:
        self.open(with_rematch(finished_game(), 1), seat=0)
        errors = (
            wire.GameNotOver(),
            wire.NoOpponent(),
            wire.RematchPending(),
            wire.NoRematchOffer(),
        )
        for error in errors:
            self.controller.perform(Action("accept-rematch"))
            _, answer = self.client.pop("accept_rematch")
            answer.callback(refused(error))
            tag = error.tag.decode()
            self.assertEqual(
                self.notice,
                f"Accepting the rematch refused by the servers: {tag} ({OFFER_REFUSALS[tag]})",
            )
            self.client.pop("get_game")
        self.assertEqual(self.controller.game.game_id, "g1")  # type: ignore[union-attr]
        self.assertEqual(len(OFFER_REFUSALS), 8)
