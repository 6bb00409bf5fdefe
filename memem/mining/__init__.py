"""Mining settled transcripts into memories: the service the front-ends call (`service`), the
miner, its model backends, and starting and stopping the daemon (`lifecycle`).
"""
