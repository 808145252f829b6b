"""Serializer fields that take a JSON string only: a number is a field error."""

from rest_framework import serializers


class StringOnly:
    """A number where a string belongs is a field error, not coerced (CONTRACT 2).

    DRF's CharField turns ``5`` into ``"5"``; a producer that sent a number
    where text belongs has a bug the hub should name, not hide.
    """

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StringOnly, serializers.CharField):
    pass


class StrictEmailField(StringOnly, serializers.EmailField):
    pass


class StrictRegexField(StringOnly, serializers.RegexField):
    pass


class StrictSlugField(StringOnly, serializers.SlugField):
    pass


_STRICT = {
    serializers.CharField: StrictCharField,
    serializers.EmailField: StrictEmailField,
    serializers.SlugField: StrictSlugField,
}


_MAPPING = serializers.ModelSerializer.serializer_field_mapping


class StrictModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose text fields take strings only."""

    serializer_field_mapping = {
        model_field: _STRICT.get(field, field)
        for model_field, field in _MAPPING.items()
    }
