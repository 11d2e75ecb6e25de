SELECT entries, first_broken_seq, head_seq FROM audit_verify()
