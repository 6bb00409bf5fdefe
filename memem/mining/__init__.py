"""Mining settled transcripts into memories: the miner, its model backends, and starting and
stopping the daemon.
"""
