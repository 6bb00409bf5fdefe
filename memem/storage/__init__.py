"""Every side effect on disk: the vault's files, the index (all SQL lives here), events,
quarantine records, permissions, the miner's own state (`miner_state`).
"""
