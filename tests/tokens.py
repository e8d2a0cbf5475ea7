"""Forging a signed token in a way that always changes what it says.

A base64 signature's last character carries padding bits the decoder ignores, so
replacing the last characters can leave the signature as it was (a 1-in-1,000
chance with two characters: one CI run failed that way). Changing the first
character of the signature always changes its bytes.
"""


def forged(token: str) -> str:
    head, dot, signature = token.rpartition(".")
    first = "B" if signature[0] == "A" else "A"
    return f"{head}{dot}{first}{signature[1:]}"
