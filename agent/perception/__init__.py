"""V-JEPA video encoder: model, tube masking, training and collapse watch."""
