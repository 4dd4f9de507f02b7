from twisted.application.service import ServiceMaker

replgame = ServiceMaker(
    "replgame",
    "game.server.tap",
    "A replgame server: one of the three replicas of a game cluster",
    "replgame",
)
