using System.Diagnostics;

namespace GenSearch.Bench.Serve;

/// <summary>
/// Debian's nginx in the foreground, its config, pid file, logs and temp folders in a folder of its
/// own: one loopback port, round-robin over the upstreams with kept-alive connections to them.
/// </summary>
internal sealed class Nginx : IAsyncDisposable
{
    private readonly Process _process;

    private Nginx(Process process, string url) { _process = process; Url = url; }

    public string Url { get; }

    public static async Task<Nginx> StartAsync(IReadOnlyList<string> upstreams, string dir)
    {
        if (!File.Exists("/usr/sbin/nginx")) throw new BenchmarkSkipped("nginx is missing (bench/run installs Debian's nginx with apt-get)");
        Directory.CreateDirectory(dir);
        int port = ServerProcess.FreePort();
        string servers = string.Join("\n", upstreams.Select(u => $"    server {new Uri(u).Authority};"));
        string user = Environment.UserName == "root" ? "user root;" : "";
        string config = $$"""
            {{user}}
            worker_processes 1;
            daemon off;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 4096; }
            http {
              access_log off;
              client_body_temp_path {{dir}}/body;
              proxy_temp_path {{dir}}/proxy;
              fastcgi_temp_path {{dir}}/fastcgi;
              uwsgi_temp_path {{dir}}/uwsgi;
              scgi_temp_path {{dir}}/scgi;
              upstream gensearch {
            {{servers}}
                keepalive 128;
              }
              server {
                listen 127.0.0.1:{{port}};
                location / {
                  proxy_pass http://gensearch;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_next_upstream off;
                }
              }
            }
            """;
        string path = Path.Combine(dir, "nginx.conf");
        await File.WriteAllTextAsync(path, config);
        var start = new ProcessStartInfo("/usr/sbin/nginx") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-c", path, "-p", dir, "-e", Path.Combine(dir, "error.log") }) start.ArgumentList.Add(a);
        var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start");
        string url = $"http://127.0.0.1:{port}";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (int i = 0; i < 100; i++)
        {
            if (process.HasExited) throw new InvalidOperationException($"nginx exited: {await process.StandardError.ReadToEndAsync()} {ServerProcess.Tail(Path.Combine(dir, "error.log"))}");
            try { if ((await http.GetAsync(url + "/health/live")).IsSuccessStatusCode) return new Nginx(process, url); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            await Task.Delay(100);
        }
        process.Kill();
        throw new TimeoutException("nginx did not answer within 10 s");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var quit = Process.Start("kill", ["-QUIT", _process.Id.ToString()])) await quit.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _process.WaitForExitAsync(wait.Token); } catch (OperationCanceledException) { _process.Kill(); }
        }
        _process.Dispose();
    }
}
