"""REST API (Django REST framework): thin views over the same selectors as the pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from matcher import selectors


class DatasetListApi(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        publisher = serializers.CharField()
        source_url = serializers.CharField()
        licence = serializers.CharField()
        description = serializers.CharField()
        tracks = serializers.IntegerField(source="current_version.row_count", default=0)
        version = serializers.IntegerField(source="current_version.number", default=None)
        version_sha256 = serializers.CharField(source="current_version.sha256", default=None)

    def get(self, request: Request) -> Response:
        data = self.OutputSerializer(selectors.datasets_with_versions(), many=True).data
        return Response(data)


class RunDetailApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        catalog = serializers.CharField(source="catalog.name")
        status = serializers.CharField()
        rows_done = serializers.IntegerField()
        total_rows = serializers.IntegerField()
        percent = serializers.IntegerField()
        thresholds = serializers.DictField()
        engine_version = serializers.CharField()
        error = serializers.CharField()

    def get(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(selectors.runs_for_user(request.user), pk=pk)
        return Response(self.OutputSerializer(run).data)
