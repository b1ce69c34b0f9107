"""Doors for AI agents: the MCP server (`autobook mcp`), on the same intake and proposals."""
