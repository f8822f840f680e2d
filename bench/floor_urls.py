"""The site's URLs and /bench/floor: a view that reads a JSON body and answers 202, nothing else.

The throughput bench (bench/throughput.py) offers it the same requests at the same rates, through the same
gunicorn, middleware and client, as the send API: what those cost a request that does no work of its own.
"""

import json

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from web.urls import urlpatterns as site_urlpatterns


@csrf_exempt
def floor(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    return JsonResponse({"event_id": 0, "status": "queued", "recipients": len(body["recipients"])}, status=202)


urlpatterns = [path("bench/floor", floor), *site_urlpatterns]
