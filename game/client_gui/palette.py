"""Every colour the desktop game draws, by what it means.

Colours of board cells and replica lights are far apart in RGB (at least
~60 in some channel from any colour they can sit next to or be confused
with), so that a rendering test can tell each state from a pixel read back
from the framebuffer with a small tolerance.
"""

from __future__ import annotations

from typing import Final

RGB = tuple[int, int, int]

#: The window's background.
BACKGROUND: Final[RGB] = (44, 50, 62)
#: Panels: the top bar, the side panel, the replica bar.
PANEL: Final[RGB] = (30, 34, 44)
TEXT: Final[RGB] = (236, 238, 242)
DIM_TEXT: Final[RGB] = (150, 158, 172)
NOTICE_TEXT: Final[RGB] = (255, 196, 90)
ERROR_TEXT: Final[RGB] = (255, 120, 110)

#: Seat 0 ("black") and seat 1 ("white") pieces, in every kind.
SEAT_COLOURS: Final[tuple[RGB, RGB]] = ((18, 18, 18), (244, 244, 240))

# -- Connect Four -------------------------------------------------------------
C4_BOARD: Final[RGB] = (36, 84, 196)
C4_HOLE: Final[RGB] = (140, 170, 230)
#: The background of the last move's cell (a ring around its disc).
C4_LAST: Final[RGB] = (250, 160, 30)

# -- Reversi --------------------------------------------------------------------
RV_BOARD: Final[RGB] = (20, 130, 64)
RV_GRID: Final[RGB] = (8, 70, 30)
RV_LAST: Final[RGB] = (250, 160, 30)
#: Squares whose discs the last move turned over.
RV_FLIPPED: Final[RGB] = (150, 90, 210)
#: The dot on a square where the player may place a disc.
RV_HINT: Final[RGB] = (90, 220, 250)

# -- Checkers ---------------------------------------------------------------------
CK_LIGHT: Final[RGB] = (232, 208, 160)
CK_DARK: Final[RGB] = (120, 74, 40)
CK_LAST: Final[RGB] = (250, 160, 30)
#: A piece that must capture (captures are forced).
CK_CAPTURE: Final[RGB] = (220, 40, 60)
#: The selected piece and the squares of the path chosen so far.
CK_SELECTED: Final[RGB] = (40, 120, 250)
#: The dot on a square the selected piece may land on next.
CK_HINT: Final[RGB] = (90, 220, 250)
#: The crown mark at the centre of a king.
CK_KING: Final[RGB] = (255, 210, 0)
CK_LABEL: Final[RGB] = (200, 170, 130)

# -- buttons ---------------------------------------------------------------------------
BUTTON: Final[RGB] = (70, 96, 150)
BUTTON_DISABLED: Final[RGB] = (62, 66, 78)
BUTTON_DANGER: Final[RGB] = (170, 50, 50)
BUTTON_TEXT: Final[RGB] = (245, 246, 250)
BUTTON_TEXT_DISABLED: Final[RGB] = (120, 126, 138)
FIELD: Final[RGB] = (20, 22, 30)
FIELD_EDITING: Final[RGB] = (60, 60, 20)
ROW: Final[RGB] = (38, 43, 55)

# -- banners -----------------------------------------------------------------------------
BANNER_WIN: Final[RGB] = (30, 150, 70)
BANNER_LOSS: Final[RGB] = (170, 45, 45)
BANNER_NEUTRAL: Final[RGB] = (90, 96, 110)
BANNER_TURN: Final[RGB] = (200, 140, 20)
#: The banner while an earlier position of the game is shown (replay).
BANNER_REPLAY: Final[RGB] = (40, 120, 170)
DIALOG: Final[RGB] = (24, 26, 34)

# -- clocks (on the side panel, PANEL) and the time-control choice (on BACKGROUND) ---------
#: A clock that is not running: the side not to move, or a game not started or over.
CLOCK_IDLE: Final[RGB] = (96, 104, 124)
#: The side to move's clock, highlighted.
CLOCK_RUNNING: Final[RGB] = (236, 236, 228)
CLOCK_RUNNING_TEXT: Final[RGB] = (20, 22, 30)
#: A running live clock under ten seconds (and the face of a clock that ran out).
CLOCK_LOW: Final[RGB] = (225, 30, 30)
#: The digits of a stopped live clock under ten seconds.
CLOCK_LOW_TEXT: Final[RGB] = (255, 110, 100)
#: The time control chosen for new games (the others are drawn as BUTTON).
CHOICE_SELECTED: Final[RGB] = (235, 200, 70)
CHOICE_SELECTED_TEXT: Final[RGB] = (20, 22, 30)
SHADE: Final[RGB] = (16, 18, 24)

# -- the move list (on the side panel, PANEL) ----------------------------------------------
#: Behind the row of the move shown on the board.
MOVE_HIGHLIGHT: Final[RGB] = (120, 96, 20)

# -- takebacks and rematches (on the side panel, PANEL) ----------------------------------------
#: Behind a standing takeback or rematch offer and its buttons.
OFFER_CARD: Final[RGB] = (92, 52, 112)
#: The button that accepts the opponent's offer (or opens an accepted rematch).
BUTTON_ACCEPT: Final[RGB] = (28, 124, 118)

# -- replica lights ----------------------------------------------------------------------
#: Connected, serving, and holding what is shown.
LIGHT_AGREE: Final[RGB] = (40, 200, 80)
#: Connected, but not serving yet, behind, or holding something else.
LIGHT_DIFFER: Final[RGB] = (245, 170, 20)
#: Not connected.
LIGHT_DOWN: Final[RGB] = (220, 40, 40)

LIGHT_COLOURS: Final[dict[str, RGB]] = {
    "agree": LIGHT_AGREE,
    "differ": LIGHT_DIFFER,
    "down": LIGHT_DOWN,
}
