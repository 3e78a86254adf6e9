"""What ``parla-dev`` tells the person who ran it."""


def say(message: str) -> None:
    print(f"parla-dev: {message}", flush=True)
