"""Map a model's class names onto roadwatch's categories (vehicle, pedestrian, sign, plate)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CATEGORIES: dict[str, list[str]] = {
    "vehicle": ["car", "truck", "bus", "motorcycle", "bicycle"],
    "pedestrian": ["person"],
    "sign": ["stop sign", "traffic light"],
    "plate": ["license_plate"],
}


@dataclass(frozen=True)
class CategoryMap:
    """Which category each class name belongs to; classes in no category are not detected at all."""

    categories: dict[str, list[str]]

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for category, names in self.categories.items():
            for name in names:
                if name in seen:
                    raise ValueError(f"class '{name}' is in both '{seen[name]}' and '{category}'")
                seen[name] = category

    @property
    def names(self) -> list[str]:
        """Category names, in a fixed order; a category's index is its position here."""
        return list(self.categories)

    def category_of(self, class_name: str) -> str | None:
        for category, names in self.categories.items():
            if class_name in names:
                return category
        return None

    def class_ids(self, model_names: dict[int, str]) -> dict[int, str]:
        """The model's class ids that fall in some category, with that category."""
        out = {}
        for class_id, name in model_names.items():
            category = self.category_of(name)
            if category is not None:
                out[int(class_id)] = category
        return out
