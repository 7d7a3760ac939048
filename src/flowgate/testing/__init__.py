"""Test helpers for flowgate and its plugin authors: backend fakes and API stand-ins."""
