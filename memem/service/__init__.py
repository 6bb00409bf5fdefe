"""The one API the front-ends call: gather from storage, let the core decide, apply through
storage.
"""
