"""Fine-tuning toolkit: datasets of image conversations, the SFT collator, LoRA / QLoRA / full training on
transformers' Trainer, the shapes-world generator and the recipe that trains the built-in demo model."""
