"""Parla identity service: Accounts, login (email/password, Google, TikTok), access tokens and profiles."""
