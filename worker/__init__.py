"""Answers user messages: realtime listener, claims, prompt, LLM providers, writer."""
