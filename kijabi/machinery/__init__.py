"""Pure code shared by every layer: objects, selectors, patches, schemas, errors. No I/O here."""
