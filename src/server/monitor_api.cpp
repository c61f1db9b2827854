// Long recordings over HTTP (server/monitor_jobs.h):
//   POST   /v1/monitor                  upload (as /v1/detect) + query: threshold, window_seconds,
//                                       hop_seconds, start_time, night, bout_gap, merge_gap
//                                       -> 202 {"id", "state", "status_url"} (503 when the jobs are full)
//   GET    /v1/jobs/{id}                {"id", "file", "state", "progress", "seconds_decoded",
//                                        "error"?, "report"? (the `coughkit monitor --json --track` object)}
//   GET    /v1/jobs/{id}/timeline.svg   a finished job's timeline (409 before)
//   DELETE /v1/jobs/{id}                cancels a job, or drops a finished one's result
#include <charconv>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "server/routes.h"

namespace coughkit::server {
namespace {

std::optional<double> query_number(const Request& r, const char* key) {
  const auto text = r.query_param(key);
  if (!text) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size())
    throw HttpError{400, "invalid_argument", fmt::format("{} must be a number, got '{}'", key, *text)};
  return v;
}

// "/v1/jobs/ID" or "/v1/jobs/ID/timeline.svg" -> ID and whether the plot is asked for.
std::pair<std::string, bool> job_path(const std::string& path) {
  std::string rest = path.substr(std::string("/v1/jobs/").size());
  bool plot = false;
  if (rest.ends_with("/timeline.svg")) {
    rest.resize(rest.size() - std::string("/timeline.svg").size());
    plot = true;
  }
  if (rest.empty() || rest.find('/') != std::string::npos) throw HttpError{404, "not_found", "no route GET " + path};
  return {rest, plot};
}

HttpError no_such_job(const std::string& id) {
  return {404, "job_not_found", fmt::format("no job {} (unknown, cancelled, or its result has expired)", id)};
}

}  // namespace

Response handle_v1_monitor(Service& service, const Request& request) {
  MonitorJobRequest job;
  const std::string& bytes = uploaded_audio(request, job.name);
  if (bytes.empty()) throw HttpError{400, "empty_upload", "the audio upload is empty"};
  if (bytes.size() > service.config().max_upload_bytes)
    throw HttpError{
        413, "upload_too_large",
        fmt::format("the upload is {} bytes; the limit is {} bytes", bytes.size(), service.config().max_upload_bytes)};
  const auto threshold = parse_threshold(request.query_param("threshold"));
  auto& s = job.settings;
  s.model = std::filesystem::path(service.config().detector.model_path).filename().string();
  s.events.threshold = threshold.value_or(service.detector().default_threshold());
  s.threshold_source = threshold ? "request" : "model";
  if (auto v = query_number(request, "window_seconds")) job.windows.window_s = *v;
  if (auto v = query_number(request, "hop_seconds")) job.windows.hop_s = *v;
  if (auto v = query_number(request, "bout_gap")) s.events.bout_gap_s = *v;
  if (auto v = query_number(request, "merge_gap")) s.events.merge_gap_s = *v;
  if (auto t = request.query_param("start_time")) {
    s.start = monitoring::WallClock::parse(*t, "start_time");
    s.start_source = "request";
  }
  if (auto n = request.query_param("night")) s.night = monitoring::NightWindow::parse(*n);
  job.windows.Validate();  // ConfigError -> 400
  s.events.Validate();
  job.bytes = bytes;
  const auto id = service.jobs().submit(std::move(job));
  if (!id) {
    service.metrics().count_rejected("jobs_full");
    throw HttpError{
        503, "jobs_full",
        fmt::format("{} monitor jobs exist already; retry when one has finished and been fetched or deleted",
                    service.config().max_jobs),
        5};
  }
  nlohmann::ordered_json j;
  j["id"] = *id;
  j["state"] = "queued";
  j["status_url"] = "/v1/jobs/" + *id;
  Response r = Response::ordered_json(202, j);
  r.headers.emplace_back("Location", "/v1/jobs/" + *id);
  return r;
}

Response handle_job_get(Service& service, const Request& request) {
  const auto [id, plot] = job_path(request.path);
  const auto view = service.jobs().get(id);
  if (!view) throw no_such_job(id);
  if (plot) {
    if (view->state != JobState::kDone)
      throw HttpError{
          409, "not_done",
          fmt::format("job {} is {}; its timeline exists once it is done", id, job_state_name(view->state))};
    Response r;
    r.content_type = "image/svg+xml";
    r.body = view->timeline_svg;
    return r;
  }
  nlohmann::ordered_json j;
  j["id"] = view->id;
  j["file"] = view->file;
  j["state"] = job_state_name(view->state);
  j["progress"] = view->progress;
  j["seconds_decoded"] = view->seconds_decoded;
  if (view->state == JobState::kFailed) j["error"] = {{"status", view->error_status}, {"message", view->error}};
  if (view->state == JobState::kDone) {
    j["report"] = nlohmann::ordered_json::parse(view->report_json);
    j["timeline_url"] = "/v1/jobs/" + view->id + "/timeline.svg";
  }
  return Response::ordered_json(200, j);
}

Response handle_job_delete(Service& service, const Request& request) {
  const auto [id, plot] = job_path(request.path);
  if (plot) throw HttpError{405, "method_not_allowed", "DELETE /v1/jobs/{id}, not its timeline"};
  if (!service.jobs().cancel(id)) throw no_such_job(id);
  return Response::ordered_json(200, {{"id", id}, {"state", "cancelled"}});
}

}  // namespace coughkit::server
