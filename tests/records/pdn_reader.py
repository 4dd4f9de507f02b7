"""An independent PDN reader for the tests, written from the PDN 3.0 standard's
grammar (pdn.fmjd.org, "PDN Grammars"), not from :mod:`game.records.pdn`:
a character scanner for its tokens and a reader of its productions::

    Game       : (GameHeader GameBody?) | GameBody
    GameHeader : PdnTag+
    GameBody   : (GameMove | Variation | COMMENT | SETUP | NAG)+
    PdnTag     : LBRACKET IDENTIFIER STRING RBRACKET
    GameMove   : MOVENUMBER? Move MOVESTRENGTH?
    Move       : NormalMove | CaptureMove      NormalMove : Square "-" Square
    CaptureMove: Square ("x" Square)+           Square     : NUMSQUARE "[1-9][0-9]?"

and the game separator / result (``1-0``, ``0-1``, ``1/2-1/2``, ``*``).
It knows nothing of the rules: :func:`replay` resolves its moves against
:mod:`game.rules`' legal moves, a capture given by its two ends included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from game.rules import Position, new_game

RESULTS = ("1/2-1/2", "1-0", "0-1", "2-0", "0-2", "1-1", "0-0")


class PdnSyntaxError(ValueError):
    pass


@dataclass
class PdnGame:
    tags: dict[str, str] = field(default_factory=dict)
    tag_order: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    result: str | None = None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def peek(self, offset: int = 0) -> str:
        index = self.at + offset
        return self.text[index] if index < len(self.text) else ""

    def skip_blanks(self) -> None:
        while self.at < len(self.text):
            char = self.text[self.at]
            if char in " \t\r\n":
                self.at += 1
            elif char == "%" and (self.at == 0 or self.text[self.at - 1] == "\n"):
                while self.at < len(self.text) and self.text[self.at] != "\n":
                    self.at += 1
            else:
                return

    def take_while(self, allowed: str) -> str:
        start = self.at
        while self.peek() and self.peek() in allowed:
            self.at += 1
        return self.text[start : self.at]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise PdnSyntaxError(f"expected {char!r} at offset {self.at}, found {self.peek()!r}")
        self.at += 1


DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def read_pdn(text: str) -> PdnGame:
    """The first game of ``text``."""
    scanner = _Scanner(text)
    game = PdnGame()
    scanner.skip_blanks()
    while scanner.peek() == "[":
        scanner.expect("[")
        scanner.skip_blanks()
        name = scanner.take_while(LETTERS + DIGITS + "_")
        if not name or not name[0].isupper():
            raise PdnSyntaxError(f"a tag name starts with a capital: {name!r}")
        scanner.skip_blanks()
        scanner.expect('"')
        value = []
        while scanner.peek() != '"':
            if not scanner.peek():
                raise PdnSyntaxError("unterminated string")
            if scanner.peek() == "\\":
                scanner.at += 1
            value.append(scanner.peek())
            scanner.at += 1
        scanner.expect('"')
        scanner.skip_blanks()
        scanner.expect("]")
        game.tags[name] = "".join(value)
        game.tag_order.append(name)
        scanner.skip_blanks()
    depth = 0
    while True:
        scanner.skip_blanks()
        char = scanner.peek()
        if not char:
            break
        if char == "{":
            end = scanner.text.index("}", scanner.at)
            if depth == 0:
                game.comments.append(scanner.text[scanner.at + 1 : end])
            scanner.at = end + 1
        elif char == "(":
            depth += 1
            scanner.at += 1
        elif char == ")":
            depth -= 1
            scanner.at += 1
        elif char == "$":
            scanner.at += 1
            scanner.take_while(DIGITS)
        elif char == "*":
            scanner.at += 1
            game.result = "*"
            break
        elif char in DIGITS:
            result = next((r for r in RESULTS if scanner.text.startswith(r, scanner.at)), None)
            if result is not None and not scanner.text[scanner.at + len(result) :][:1].isdigit():
                scanner.at += len(result)
                game.result = result
                break
            number = scanner.take_while(DIGITS)
            if scanner.peek() == ".":
                dots = scanner.take_while(".")
                if dots not in (".", "..."):
                    raise PdnSyntaxError(f"a move number ends in . or ..., not {dots!r}")
                if depth == 0:
                    game.numbers.append(number + dots)
                continue
            move = [number]
            while scanner.peek() in ("-", "x"):
                separator = scanner.peek()
                scanner.at += 1
                square = scanner.take_while(DIGITS)
                if not square or square.startswith("0") or len(square) > 2:
                    raise PdnSyntaxError(f"a square is 1-99 without a leading zero: {square!r}")
                move += [separator, square]
            if len(move) < 3 or ("-" in move and len(move) != 3):
                raise PdnSyntaxError(f"not a move: {''.join(move)!r}")
            scanner.take_while("!?")
            if depth == 0:
                game.moves.append("".join(move))
        else:
            raise PdnSyntaxError(f"unexpected {char!r} at offset {scanner.at}")
    if depth:
        raise PdnSyntaxError("unclosed variation")
    return game


def replay(moves: list[str], start: Position | None = None) -> list[str]:
    """The moves in the rules' notation, each checked legal; a capture written
    by its two ends becomes the one legal capture joining them."""
    position = start or new_game("checkers")
    played = []
    for move in moves:
        legal = position.legal_moves()
        if move not in legal:
            squares = move.split("x")
            matching = [
                m
                for m in legal
                if m.split("x")[0] == squares[0] and m.split("x")[-1] == squares[-1]
            ]
            if "x" not in move or len(squares) != 2 or len(matching) != 1:
                raise ValueError(f"{move} is not legal after {played}")
            move = matching[0]
        played.append(move)
        position = position.play(move)
    return played
