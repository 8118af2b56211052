"""Cross-cutting helpers with no model content (progress output)."""
