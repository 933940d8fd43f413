using System.CommandLine;
using System.Diagnostics;
using GenSearch.Text;

namespace GenSearch.Cli;

/// <summary><c>gensearch tokenizer train|encode</c>: learn the subword vocabulary, or show how a text tokenizes.</summary>
internal static class TokenizerCommand
{
    public static Command Create()
    {
        var command = new Command("tokenizer", "Train the WordPiece tokenizer on a corpus and its training queries, or encode a text with one.");

        var data = new Option<string>("--data") { Description = "BEIR directory to learn from (corpus titles and texts, and the train split's queries).", Required = true };
        var output = new Option<string>("--out") { Description = "Where to save the tokenizer (one text file).", Required = true };
        var size = new Option<int>("--vocab-size") { Description = "Vocabulary size, special tokens included.", DefaultValueFactory = _ => 16_000 };
        var train = new Command("train", "Learn a WordPiece vocabulary and save the tokenizer.") { data, output, size };
        train.SetAction(parse => CliSupport.Guard(() =>
        {
            var set = CliSupport.OpenData(parse.GetValue(data));
            int vocab = parse.GetValue(size);
            if (vocab < 64) throw new CliException("--vocab-size must be at least 64");
            var trainIds = File.Exists(set.QrelsPath("train"))
                ? set.Qrels("train").Qrels.QueryIds.ToHashSet(StringComparer.Ordinal) : new HashSet<string>();
            var texts = set.Corpus().SelectMany(d => new[] { d.Title, d.Text })
                .Concat(set.Queries().Where(q => trainIds.Contains(q.Id)).Select(q => q.Text));
            var sw = Stopwatch.StartNew();
            var tokenizer = WordPieceTrainer.Train(texts, new WordPieceTrainerOptions { VocabularySize = vocab });
            tokenizer.Save(parse.GetValue(output)!);
            Console.WriteLine($"vocabulary of {tokenizer.VocabularySize:N0} tokens learned in {sw.Elapsed.TotalSeconds:F1} s, saved to {parse.GetValue(output)}");
            return 0;
        }));

        var file = new Option<string>("--tokenizer") { Description = "A tokenizer file saved by 'tokenizer train'.", Required = true };
        var text = new Argument<string>("text") { Description = "The text to encode." };
        var encode = new Command("encode", "Show the tokens and ids of a text.") { file, text };
        encode.SetAction(parse => CliSupport.Guard(() =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path)) throw new CliException($"{path}: file not found");
            var tokenizer = WordPieceTokenizer.Load(path);
            var ids = tokenizer.Encode(parse.GetValue(text) ?? "");
            Console.WriteLine(string.Join(' ', ids.Select(tokenizer.TokenOf)));
            Console.WriteLine(string.Join(' ', ids));
            return 0;
        }));

        command.Subcommands.Add(train);
        command.Subcommands.Add(encode);
        return command;
    }
}
