"""The SDK's version, in one place (read by the build and sent as ``X-Skill-Version``)."""

__version__ = "0.1.0"
