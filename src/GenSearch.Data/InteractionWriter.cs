using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using GenSearch.Evaluation;

namespace GenSearch.Data;

/// <summary>
/// Writes a search log as <c>interactions.jsonl</c>, one event a line, in the format
/// <see cref="InteractionReader"/> reads: <c>{"user", "query", "item", "ts", "signals": {...}}</c>
/// (<c>"item"</c> null for a search without a click, <c>"ts"</c> epoch seconds). All or nothing
/// (<see cref="AtomicFile"/>).
/// </summary>
public static class InteractionWriter
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <paramref name="events"/> to <paramref name="path"/>; returns how many. Refuses a log without events (the reader rejects an empty file).</summary>
    public static long Write(string path, IEnumerable<Interaction> events)
    {
        long count = 0;
        AtomicFile.Write(path, text =>
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
            foreach (var e in events)
            {
                buffer.ResetWrittenCount();
                using (var json = new Utf8JsonWriter(buffer, Options)) WriteEvent(json, e);
                text.Write(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
                text.Write('\n');
                count++;
            }
            if (count == 0) throw new InvalidDataException($"{path}: no events to write (an interactions file needs at least one)");
        });
        return count;
    }

    private static void WriteEvent(Utf8JsonWriter json, Interaction e)
    {
        json.WriteStartObject();
        json.WriteString("user", e.User);
        json.WriteString("query", e.Query);
        if (e.Item is null) json.WriteNull("item"); else json.WriteString("item", e.Item);
        json.WriteNumber("ts", e.Timestamp);
        json.WriteStartObject("signals");
        foreach (var (name, value) in e.Signals)
        {
            if (!double.IsFinite(value)) throw new InvalidDataException($"signal '{name}' of {e.User}'s event at {e.Timestamp.ToString(CultureInfo.InvariantCulture)} is not a finite number");
            json.WriteNumber(name, value);
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
