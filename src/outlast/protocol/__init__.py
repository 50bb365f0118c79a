"""The Inngest wire protocol, shared by Outlast's SDK and server.

Nothing here imports the SDK, the engine, the store or the server.
"""
