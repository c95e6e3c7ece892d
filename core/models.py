import uuid

from django.db import models

from core.time import now_ms


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


class UUIDModel(models.Model):
    id = models.UUIDField(primary_key=True, default=new_uuid, editable=False)

    class Meta:
        abstract = True


class CreatedModel(UUIDModel):
    created_at = models.BigIntegerField(default=now_ms, editable=False)

    class Meta:
        abstract = True


class TimestampedModel(CreatedModel):
    """created_at/updated_at as epoch milliseconds.

    `updated_at` is set by `touch_fields`-aware services, and by `save()` as a
    plain default: no side effects, just the column the spec asks for.
    """

    updated_at = models.BigIntegerField(default=now_ms)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.updated_at = now_ms()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "updated_at" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "updated_at"]
        super().save(*args, **kwargs)
