"""bench-peers: the same workload through secure-qmail and through private
instances of Postfix and Dovecot from Debian's packages (issue 15)."""
