"""The generated workload: one file per message, made from a fixed seed so
that every system and every round gets the same octets.

Every message carries the three strings the at-rest scan looks for: a
header canary (its own header line), a body canary (somewhere in the
text) and the Subject's text. The body is lines of words, as mail is, so
that nothing is favoured by incompressible or trivially repetitive data.
smtp-source -F sends a file line by line with CRLF after each line and
dot-stuffing; no line here starts with a dot, so the octets a server
receives are the file's with CRLF line ends.
"""
import os
import random

HEADER_CANARY = "hdr-canary-7c1e04b9d2"
BODY_CANARY = "body-canary-a93f5e0612"
SUBJECT = "Board minutes: the Harbour Street acquisition"
SENDER = "reporter@remote.example"

WORDS = ("the of and to in is that for it as with was on be by this are "
         "from at or an have not they which one you had her all were we "
         "there can been has more if will would when who so no out up "
         "said what its about than into them only other new some could "
         "time these two may first then do any like my now over such our "
         "man me even most made after also did many before must through "
         "back years where much your way well down should because each "
         "just those people how too little state good very make world "
         "still own see men work long get here between both life being "
         "under never day same another know while last might us great "
         "old year off come since against go came right used take three "
         "quarterly harbour ledger invoice shipment contract clause board "
         "minutes counsel figures revenue budget forecast audit").split()


class Message:
    def __init__(self, index, rcpt, path, octets):
        self.index = index
        self.rcpt = rcpt
        self.path = path          # the file smtp-source -F sends
        self.octets = octets      # what the server receives (CRLF)


def users(n, domain):
    return [f"sub{i:03d}@{domain}" for i in range(n)]


def pick_size(rng, sizes):
    x = rng.random() * sum(p for _, p in sizes)
    for size, share in sizes:
        if x < share:
            return size
        x -= share
    return sizes[-1][0]


def text(rng, lines_wanted):
    """lines_wanted lines of words, each under 78 octets."""
    out = []
    for _ in range(lines_wanted):
        line, n = [], 0
        while n < 64:
            w = rng.choice(WORDS)
            line.append(w)
            n += len(w) + 1
        out.append(" ".join(line))
    return out


def make(top, count, subscribers, sizes, seed):
    """Writes count message files under top; returns the Messages."""
    rng = random.Random(seed)
    os.makedirs(top, exist_ok=True)
    msgs = []
    for i in range(count):
        size = pick_size(rng, sizes)
        rcpt = rng.choice(subscribers)
        head = [f"From: Harbour Reporter <{SENDER}>",
                f"To: <{rcpt}>",
                f"Subject: {SUBJECT} ({i})",
                f"Message-ID: <bench-peers-{seed}-{i}@remote.example>",
                f"X-Bench-Canary: {HEADER_CANARY}",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=us-ascii", ""]
        have = sum(len(x) + 2 for x in head)
        body = []
        while have < size:
            more = text(rng, max(1, (size - have) // 70))
            body += more
            have += sum(len(x) + 2 for x in more)
        # the canary replaces a word line, somewhere inside the text
        at = rng.randrange(len(body))
        body[at] = f"reference {BODY_CANARY} for the record"
        lines = head + body
        # the last line shortened so that the DATA is size octets, or a
        # few less (unless that line is the canary's, or too short)
        over = sum(len(x) + 2 for x in lines) - size
        if 0 < over < len(lines[-1]) and at != len(body) - 1:
            lines[-1] = lines[-1][:len(lines[-1]) - over].rstrip() or "end"
        octets = sum(len(x) + 2 for x in lines)
        path = os.path.join(top, f"{i:05d}")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        msgs.append(Message(i, rcpt, path, octets))
    return msgs
