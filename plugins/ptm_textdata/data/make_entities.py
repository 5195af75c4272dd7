"""Write the embedded ``entities`` data: entities-train.jsonl (400 sentences), entities-dev.jsonl
(100) and entities-test.jsonl (200), one ``{"tokens": [...], "tags": [...]}`` per line.

Regenerate, from the repository root, with plain Python (no packages needed):

    python plugins/ptm_textdata/data/make_entities.py

The output depends only on ``SEED`` and the lists below, so it comes out byte for byte the same.

How the data is made, and why:

- Every sentence is a template written for this project, filled with names. Templates vary the
  place of the entities (start, middle, end), hold two or three of them, put some next to each
  other between commas (``Lisbon , Portugal``), and a few hold none. ``TEST_ONLY`` templates
  (about a fifth) appear only in the test split, so the test also measures unseen contexts.
- Every pool of names (people's first and last names by culture, countries with their cities,
  regions and nationality, organisations, languages, events, works, products) is split three
  ways *before* any sentence is drawn, and names built from parts (``Bank of Porto``, ``Maria
  de Souza``) use parts of their own split only. So no entity of dev or test appears in train:
  :func:`check` asserts it, and that no test or dev entity's words occur anywhere in a train
  sentence either (case ignored).
- The names are real (first and last names from many cultures, real cities, regions and
  countries, well-known institutions and companies, plus plausible invented companies), so a
  pretrained model can bring what it knows; the contexts are what the tags are learnt from.
- Tokens are split as CoNLL splits them (punctuation on its own), tags are BIO as IOB2 writes
  them, with four types: PER, LOC, ORG and MISC (nationalities, languages, events, awards,
  books, films, music and products).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20261205
SIZES = {"train": 400, "dev": 100, "test": 200}
SHARES = {"train": 0.55, "dev": 0.15, "test": 0.30}
"""How each pool of names is divided between the splits (test gets more than dev: it is larger)."""

# Country, nationality, cities, regions (and other places: islands, mountains, lakes).
COUNTRIES = [
    ("Portugal", "Portuguese", ["Lisbon", "Porto", "Coimbra", "Braga", "Faro"], ["Algarve", "Alentejo", "Madeira"]),
    ("Brazil", "Brazilian", ["Sao Paulo", "Rio de Janeiro", "Recife", "Curitiba", "Belo Horizonte", "Manaus"],
     ["Minas Gerais", "Rio Grande do Sul", "Bahia"]),
    ("Spain", "Spanish", ["Madrid", "Barcelona", "Seville", "Valencia", "Bilbao", "Malaga"],
     ["Andalusia", "Catalonia", "Galicia"]),
    ("France", "French", ["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Nantes"],
     ["Brittany", "Normandy", "Provence"]),
    ("Germany", "German", ["Berlin", "Munich", "Hamburg", "Cologne", "Frankfurt", "Leipzig"],
     ["Bavaria", "Saxony", "Black Forest"]),
    ("Italy", "Italian", ["Rome", "Milan", "Naples", "Turin", "Bologna", "Palermo"], ["Tuscany", "Sicily", "Lombardy"]),
    ("Australia", "Australian", ["Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide"],
     ["New South Wales", "Queensland", "Tasmania"]),
    ("Canada", "Canadian", ["Toronto", "Montreal", "Vancouver", "Calgary", "Ottawa"], ["Nova Scotia", "Alberta", "Manitoba"]),
    ("Nigeria", "Nigerian", ["Lagos", "Abuja", "Ibadan", "Kano", "Enugu"], ["Niger Delta", "Kaduna State"]),
    ("Kenya", "Kenyan", ["Nairobi", "Mombasa", "Kisumu", "Nakuru", "Eldoret"], ["Rift Valley", "Maasai Mara"]),
    ("India", "Indian", ["Mumbai", "New Delhi", "Chennai", "Bangalore", "Kolkata", "Jaipur"],
     ["Kerala", "Rajasthan", "West Bengal"]),
    ("Japan", "Japanese", ["Tokyo", "Osaka", "Kyoto", "Sapporo", "Nagoya", "Hiroshima"], ["Hokkaido", "Kyushu", "Okinawa"]),
    ("South Korea", "South Korean", ["Seoul", "Busan", "Incheon", "Daegu", "Gwangju"], ["Jeju Island", "Gangwon Province"]),
    ("Mexico", "Mexican", ["Mexico City", "Guadalajara", "Monterrey", "Puebla", "Oaxaca"],
     ["Baja California", "Yucatan", "Chiapas"]),
    ("Argentina", "Argentine", ["Buenos Aires", "La Plata", "Mar del Plata", "Salta", "Tucuman"],
     ["Patagonia", "Tierra del Fuego"]),
    ("Egypt", "Egyptian", ["Cairo", "Luxor", "Aswan", "Giza", "Port Said"], ["Sinai Peninsula", "Nile Delta"]),
    ("Turkey", "Turkish", ["Istanbul", "Ankara", "Izmir", "Bursa", "Antalya"], ["Anatolia", "Cappadocia"]),
    ("Vietnam", "Vietnamese", ["Hanoi", "Ho Chi Minh City", "Da Nang", "Hue", "Haiphong"], ["Mekong Delta", "Ha Long Bay"]),
    ("Indonesia", "Indonesian", ["Jakarta", "Surabaya", "Bandung", "Medan", "Yogyakarta"], ["Bali", "Sumatra", "Java"]),
    ("Poland", "Polish", ["Warsaw", "Krakow", "Gdansk", "Wroclaw", "Poznan"], ["Silesia", "Masuria"]),
    ("Sweden", "Swedish", ["Stockholm", "Gothenburg", "Malmo", "Uppsala"], ["Lapland", "Gotland"]),
    ("Norway", "Norwegian", ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromso"], ["Svalbard", "Lofoten Islands"]),
    ("Ghana", "Ghanaian", ["Accra", "Kumasi", "Tamale", "Cape Coast"], ["Volta Region", "Ashanti Region"]),
    ("Ethiopia", "Ethiopian", ["Addis Ababa", "Gondar", "Bahir Dar", "Mekelle"], ["Tigray", "Simien Mountains"]),
    ("Peru", "Peruvian", ["Lima", "Cusco", "Arequipa", "Trujillo"], ["Sacred Valley", "Lake Titicaca"]),
    ("Chile", "Chilean", ["Santiago", "Valparaiso", "Concepcion", "Antofagasta"], ["Atacama Desert", "Easter Island"]),
    ("Colombia", "Colombian", ["Bogota", "Medellin", "Cartagena", "Cali", "Barranquilla"], ["Antioquia", "La Guajira"]),
    ("Morocco", "Moroccan", ["Casablanca", "Marrakesh", "Rabat", "Fez", "Tangier"], ["Atlas Mountains", "Rif Mountains"]),
    ("South Africa", "South African", ["Johannesburg", "Cape Town", "Durban", "Pretoria", "Port Elizabeth"],
     ["Western Cape", "KwaZulu-Natal", "Karoo"]),
    ("Ireland", "Irish", ["Dublin", "Cork", "Galway", "Limerick"], ["County Kerry", "Connemara"]),
    ("Scotland", "Scottish", ["Edinburgh", "Glasgow", "Aberdeen", "Dundee", "Inverness"],
     ["Scottish Highlands", "Isle of Skye"]),
    ("Greece", "Greek", ["Athens", "Thessaloniki", "Patras", "Heraklion"], ["Crete", "Peloponnese"]),
    ("Thailand", "Thai", ["Bangkok", "Chiang Mai", "Phuket", "Pattaya"], ["Isan", "Koh Samui"]),
    ("Pakistan", "Pakistani", ["Karachi", "Lahore", "Islamabad", "Peshawar", "Multan"], ["Sindh", "Swat Valley"]),
    ("China", "Chinese", ["Beijing", "Shanghai", "Guangzhou", "Chengdu", "Wuhan"], ["Sichuan", "Yunnan", "Inner Mongolia"]),
    ("Finland", "Finnish", ["Helsinki", "Tampere", "Turku", "Oulu"], ["Karelia", "Aland Islands"]),
    ("Austria", "Austrian", ["Vienna", "Salzburg", "Graz", "Innsbruck", "Linz"], ["Tyrol", "Carinthia"]),
    ("Switzerland", "Swiss", ["Zurich", "Geneva", "Basel", "Bern", "Lausanne"], ["Valais", "Ticino"]),
    ("Senegal", "Senegalese", ["Dakar", "Thies", "Ziguinchor"], ["Casamance", "Sine Saloum"]),
    ("Tanzania", "Tanzanian", ["Dar es Salaam", "Dodoma", "Arusha", "Mwanza"],
     ["Zanzibar", "Serengeti", "Mount Kilimanjaro"]),
    ("Sri Lanka", "Sri Lankan", ["Colombo", "Kandy", "Galle", "Jaffna"], ["Hill Country"]),
    ("Malaysia", "Malaysian", ["Kuala Lumpur", "Penang", "Ipoh", "Malacca"], ["Sabah", "Sarawak"]),
    ("Costa Rica", "Costa Rican", ["San Jose", "Limon", "Alajuela"], ["Guanacaste", "Nicoya Peninsula"]),
    ("Hungary", "Hungarian", ["Budapest", "Debrecen", "Szeged", "Pecs"], ["Lake Balaton", "Great Plain"]),
    ("Czech Republic", "Czech", ["Prague", "Brno", "Ostrava", "Plzen"], ["Bohemia", "Moravia"]),
    ("Denmark", "Danish", ["Copenhagen", "Aarhus", "Odense", "Aalborg"], ["Jutland", "Funen"]),
    ("Uganda", "Ugandan", ["Kampala", "Entebbe", "Gulu", "Jinja"], ["Rwenzori Mountains", "Karamoja"]),
    ("Cuba", "Cuban", ["Havana", "Cienfuegos", "Holguin", "Camaguey"], ["Vinales Valley", "Isle of Youth"]),
]

# Culture: first names, last names (a particle written with the name: "de Souza"), and whether
# the family name comes first ("Zhang Wei").
PEOPLE = {
    "english": (["James", "Emily", "Oliver", "Sophie", "Thomas", "Hannah", "George", "Charlotte", "Daniel", "Rachel"],
                ["Thompson", "Fletcher", "Harrison", "Whitaker", "Bennett", "Crawford", "Holloway", "Pritchard",
                 "Ashworth", "Caldwell"], False),
    "portuguese": (["Maria", "Joao", "Ana", "Pedro", "Beatriz", "Tiago", "Mariana", "Rafael", "Carolina", "Lucas"],
                   ["de Souza", "Ferreira", "Almeida", "Carvalho", "Ribeiro", "dos Santos", "Oliveira", "da Silva",
                    "Nascimento", "Barbosa"], False),
    "spanish": (["Carlos", "Lucia", "Javier", "Elena", "Miguel", "Sofia", "Diego", "Valentina", "Alejandro", "Camila"],
                ["Garcia", "Fernandez", "Morales", "Herrera", "del Castillo", "Ramirez", "Vargas", "Navarro",
                 "Ortega", "de la Cruz"], False),
    "german": (["Lukas", "Anna", "Felix", "Katharina", "Jonas", "Lena", "Matthias", "Sabine", "Stefan", "Julia"],
               ["Schneider", "Fischer", "Weber", "Hoffmann", "Becker", "Wagner", "von Arnim", "Zimmermann",
                "Schulz", "Kruger"], False),
    "french": (["Camille", "Julien", "Margaux", "Antoine", "Nicolas", "Chloe", "Mathieu", "Elodie", "Guillaume", "Claire"],
               ["Dubois", "Lefebvre", "Moreau", "Girard", "Fontaine", "Rousseau", "Mercier", "Blanchard",
                "Chevalier", "Lambert"], False),
    "italian": (["Giulia", "Marco", "Francesca", "Alessandro", "Chiara", "Lorenzo", "Martina", "Davide", "Elisa", "Matteo"],
                ["Rossi", "Bianchi", "Esposito", "Romano", "Ricci", "Greco", "De Luca", "Mancini", "Conti", "Moretti"],
                False),
    "dutch": (["Pieter", "Sanne", "Daan", "Femke", "Joost", "Anouk", "Bram", "Lotte"],
              ["van den Berg", "de Vries", "van Dijk", "van der Meer", "Jansen", "Bakker", "Visser", "de Jong"], False),
    "nigerian": (["Chinedu", "Ngozi", "Oluwaseun", "Adaeze", "Emeka", "Folake", "Tunde", "Chiamaka", "Babajide"],
                 ["Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Adebayo", "Olawale", "Chukwu"], False),
    "kenyan": (["Wanjiru", "Achieng", "Njeri", "Akinyi", "Baraka", "Zawadi", "Jabari", "Amani"],
               ["Kamau", "Otieno", "Mwangi", "Kiprop", "Onyango", "Wekesa", "Njoroge", "Cheruiyot"], False),
    "ghanaian": (["Kwame", "Ama", "Kofi", "Abena", "Yaw", "Efua", "Kwabena", "Akosua"],
                 ["Mensah", "Boateng", "Owusu", "Appiah", "Osei", "Agyeman", "Darko", "Amoako"], False),
    "indian": (["Priya", "Arjun", "Ananya", "Rahul", "Kavya", "Vikram", "Meera", "Sanjay", "Deepa", "Rohan"],
               ["Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Menon", "Chatterjee", "Desai", "Rao"], False),
    "chinese": (["Wei", "Xiaoming", "Mei", "Jian", "Lihua", "Hao", "Yan", "Jun", "Fang", "Qiang"],
                ["Wang", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Zhou", "Wu", "Xu"], True),
    "japanese": (["Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Takeshi", "Yuki", "Kenji", "Sakura"],
                 ["Sato", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato",
                  "Matsumoto"], False),
    "korean": (["Minjun", "Seoyeon", "Jiwoo", "Hyunwoo", "Jisoo", "Dohyun", "Eunji", "Sungmin"],
               ["Kim", "Lee", "Choi", "Jung", "Kang", "Yoon", "Jang", "Lim"], True),
    "arabic": (["Omar", "Layla", "Khalid", "Fatima", "Youssef", "Amira", "Tariq", "Noor", "Karim", "Salma"],
               ["Haddad", "Mansour", "al-Rashid", "Khalil", "Nasser", "Saleh", "el-Masri", "Hamdan", "Farouk",
                "bin Rashid"], False),
    "turkish": (["Emre", "Elif", "Burak", "Zeynep", "Mehmet", "Ayse", "Selin", "Kerem"],
                ["Yilmaz", "Demir", "Kaya", "Sahin", "Celik", "Aydin", "Ozturk", "Arslan"], False),
    "vietnamese": (["Minh", "Lan", "Tuan", "Thu", "Duc", "Linh", "Quang", "Hoa"],
                   ["Nguyen", "Tran", "Pham", "Hoang", "Vu", "Dang", "Bui", "Do"], True),
    "swedish": (["Erik", "Astrid", "Johan", "Ingrid", "Anders", "Elin", "Nils", "Maja"],
                ["Lindqvist", "Johansson", "Bergstrom", "Nilsson", "Eriksson", "Sandberg", "Lundgren", "Holmberg"],
                False),
    "irish": (["Siobhan", "Cian", "Aoife", "Niamh", "Eoin", "Ciaran", "Roisin", "Declan"],
              ["O'Brien", "Murphy", "O'Sullivan", "Byrne", "Doyle", "Brennan", "McCarthy", "Gallagher"], False),
    "polish": (["Tomasz", "Agnieszka", "Piotr", "Magdalena", "Krzysztof", "Joanna", "Marek", "Katarzyna"],
               ["Nowak", "Wojcik", "Mazur", "Krawczyk", "Zielinski", "Pawlak", "Dudek", "Sikora"], False),
}

COMPANIES = [
    "Siemens", "Toyota", "Samsung", "Nokia", "Nestle", "Unilever", "Microsoft", "Airbus", "Boeing", "Volkswagen",
    "Ikea", "Spotify", "Heineken", "Philips", "Lufthansa", "Qantas", "Sony", "Honda", "Adidas", "Tata Motors",
    "Infosys", "Alibaba", "Huawei", "Renault", "Ericsson", "Maersk", "Petrobras", "Safaricom", "Dangote Cement",
    "Vodafone", "Carrefour", "Barclays", "HSBC", "Deutsche Bank", "Canon", "Nissan", "Hyundai", "Lego", "Pfizer",
    "Novartis", "Embraer", "Accenture", "Northwind Logistics", "Bluewater Energy", "Silverline Rail",
    "Crestview Capital", "Meridian Health", "Greenfield Foods", "Kestrel Aerospace", "Summit Analytics",
    "Orion Telecom", "Redwood Pharmaceuticals", "Polaris Insurance", "Ironbridge Construction", "Falcon Airways",
    "Harbour Line Shipping", "Copperleaf Mining", "Brightwater Solar", "Sterling Motors", "Blue Heron Software",
]
BODIES = [
    "United Nations", "World Bank", "Red Cross", "World Health Organization", "International Monetary Fund",
    "Amnesty International", "Greenpeace", "UNESCO", "UNICEF", "Oxfam", "Doctors Without Borders",
    "World Trade Organization", "International Olympic Committee", "African Union", "European Central Bank",
    "Interpol", "World Wildlife Fund", "Save the Children", "International Labour Organization",
    "Human Rights Watch", "Wikimedia Foundation", "Gates Foundation", "Royal Society", "Smithsonian Institution",
    "World Meteorological Organization", "International Energy Agency", "Asian Development Bank",
    "European Space Agency", "NASA", "World Food Programme",
]
MEDIA = [
    "Reuters", "BBC", "Al Jazeera", "Associated Press", "Bloomberg", "CNN", "Deutsche Welle", "NHK", "Xinhua",
    "The Guardian", "El Pais", "Der Spiegel", "Financial Times", "The Economist", "Euronews", "Sky News",
]
MAKERS = {
    "Siemens", "Toyota", "Samsung", "Nokia", "Airbus", "Boeing", "Volkswagen", "Philips", "Sony", "Honda", "Adidas",
    "Tata Motors", "Huawei", "Renault", "Ericsson", "Canon", "Nissan", "Hyundai", "Lego", "Embraer",
    "Kestrel Aerospace", "Sterling Motors", "Blue Heron Software", "Brightwater Solar", "Greenfield Foods",
    "Dangote Cement", "Nestle", "Unilever", "Microsoft", "Ikea",
}
"""The companies that make things ({MAKER}); every company, banks included, fills {CO}."""
# Organisations named after a city of their split ({CITY}) or a nationality ({NAT}).
COMPANY_PATTERNS = ["Bank of {CITY}", "{CITY} Savings Bank", "{CITY} Brewing Company"]
BODY_PATTERNS = ["{CITY} City Council", "{CITY} General Hospital", "{NAT} Football Federation",
                 "{NAT} Academy of Sciences"]
MEDIA_PATTERNS = ["{CITY} Herald", "{CITY} Daily News", "{CITY} Times", "{CITY} Radio"]
CLUB_PATTERNS = ["{CITY} United", "{CITY} Athletic", "FC {CITY}", "{CITY} Wanderers", "Sporting {CITY}"]
UNIVERSITY_PATTERNS = ["University of {CITY}", "{CITY} Institute of Technology"]
ORCHESTRA_PATTERNS = ["{CITY} Symphony Orchestra", "{CITY} Philharmonic", "{NAT} National Orchestra"]

LANGUAGES = [
    "Swahili", "Tagalog", "Yoruba", "Hausa", "Zulu", "Quechua", "Catalan", "Welsh", "Esperanto", "Latin",
    "Sanskrit", "Bengali", "Urdu", "Hindi", "Amharic", "Mandarin", "Cantonese", "Gaelic", "Hebrew", "Arabic",
    "Farsi", "Malay", "Estonian", "Lithuanian", "Punjabi", "Xhosa", "Igbo", "Maori", "Khmer", "Navajo",
    "Telugu", "Marathi", "Kurdish", "Armenian", "Albanian", "Wolof", "Somali", "Tibetan", "Uzbek", "Slovak",
]
SPORT_EVENTS = [
    "World Cup", "Olympic Games", "Winter Olympics", "Commonwealth Games", "Paralympic Games", "Asian Games",
    "Pan American Games", "Africa Cup of Nations", "Copa America", "Super Bowl", "Ryder Cup", "Davis Cup",
    "Stanley Cup", "Champions League", "Europa League", "Six Nations", "Giro d'Italia", "Vuelta a Espana",
    "America's Cup", "Gold Cup", "Asia Cup", "Solheim Cup",
]
SPORT_PATTERNS = ["{NAT} Grand Prix", "{NAT} Open"]
FESTIVALS = [
    "Cannes Film Festival", "Sundance Film Festival", "Glastonbury Festival", "Eurovision Song Contest",
    "Oktoberfest", "Montreux Jazz Festival", "Venice Film Festival", "Hay Festival", "Tribeca Film Festival",
    "Burning Man", "Notting Hill Carnival", "Roskilde Festival", "Sziget Festival", "Coachella", "Womad",
    "Primavera Sound",
]
AWARDS = [
    "Nobel Prize", "Booker Prize", "Pulitzer Prize", "Palme d'Or", "Golden Bear", "Fields Medal", "Turing Award",
    "Ballon d'Or", "Prix Goncourt", "Hugo Award", "Abel Prize", "Pritzker Prize", "Golden Lion", "Cervantes Prize",
    "Templeton Prize", "Crafoord Prize", "Grammy Award", "Emmy Award", "Olivier Award", "Caine Prize",
    "Carnegie Medal", "Newbery Medal",
]
BOOKS = [
    "War and Peace", "Don Quixote", "Things Fall Apart", "One Hundred Years of Solitude", "The Tale of Genji",
    "The Little Prince", "Pride and Prejudice", "Moby Dick", "Les Miserables", "The Odyssey",
    "Crime and Punishment", "The Divine Comedy", "Madame Bovary", "Wuthering Heights", "Great Expectations",
    "Half of a Yellow Sun", "The God of Small Things", "Midnight's Children", "The Alchemist",
    "Dream of the Red Chamber", "Journey to the West", "The Master and Margarita", "Petals of Blood",
    "The Kite Runner", "Love in the Time of Cholera", "The Name of the Rose", "Frankenstein", "Dracula",
    "Heart of Darkness", "Siddhartha",
]
FILMS = [
    "Seven Samurai", "Spirited Away", "Metropolis", "Rashomon", "Cinema Paradiso", "Bicycle Thieves",
    "City of God", "The Seventh Seal", "Pan's Labyrinth", "Life Is Beautiful", "Battleship Potemkin",
    "The Lion King", "Black Orpheus", "Central Station", "Pather Panchali", "In the Mood for Love",
    "Run Lola Run", "Wings of Desire", "Persepolis", "Children of Men", "The Godfather", "Vertigo", "Das Boot",
    "Oldboy", "Shoplifters", "Yojimbo", "La Dolce Vita", "Tsotsi", "Wadjda", "Sholay", "Lagaan", "Fitzcarraldo",
]
MUSIC = [
    "The Magic Flute", "Swan Lake", "The Nutcracker", "La Traviata", "Madama Butterfly", "The Four Seasons",
    "Bolero", "The Rite of Spring", "Tosca", "Fidelio", "Turandot", "Nabucco", "Rigoletto",
    "The Marriage of Figaro", "The Planets", "New World Symphony", "Ode to Joy", "Clair de Lune",
    "Rhapsody in Blue", "Moonlight Sonata", "Pictures at an Exhibition", "The Blue Danube", "The Firebird",
    "Carmina Burana",
]
PRODUCTS = [
    "iPhone", "PlayStation", "Kindle", "Walkman", "Land Cruiser", "Galaxy Note", "ThinkPad", "Prius", "Xbox",
    "Game Boy", "Vespa", "Corolla", "MacBook", "Tamagotchi", "Thermomix", "Roomba", "Fitbit", "GoPro", "Kinect",
    "Nintendo Switch", "Model T", "Mini Cooper", "Golf GTI", "Range Rover", "Stratocaster", "Segway",
    "Surface Pro", "Concorde",
]

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

# One template a line: words as CoNLL splits them, {SLOT}s for names, {FILLER}s for plain words.
SHARED = """\
{PER} was born in {CITY} and moved to {COUNTRY} in {YEAR} .
{CO} has opened a new office in {CITY} .
The {NAT} team reached the final of the {SPORT} for the first time since {YEAR} .
{SUR} scored twice as {CLUB} beat {CLUB} {SCORE} on {DAY} .
Speaking in {LANG} , {PER} thanked the crowd in {CITY} .
Shares of {CO} fell {NUM} percent after the company warned about sales in {COUNTRY} .
{PER} , the chief executive of {CO} , said the deal would close in {MONTH} .
Flights between {CITY} and {CITY} were cancelled on {DAY} because of the storm .
{PER} is reading {BOOK} again , this time in {LANG} .
Police in {REGION} said two people were hurt in the crash .
{BODY} sent {NUM} doctors to {REGION} after the floods .
According to {MEDIA} , {PER} will not seek a second term .
The {NAT} government has asked {BODY} for help with the drought in {REGION} .
{PER} and {PER} will present the prizes at the {FEST} .
Sales of the {PRODUCT} doubled in {COUNTRY} last year .
{CITY} , {CITY} and {CITY} will host matches during the {SPORT} .
{SUR} , {SUR} and {SUR} were named in the squad to play {COUNTRY} .
The film {FILM} , directed by {PER} , opened in {CITY} on {DAY} .
A court in {COUNTRY} fined {CO} {NUM} million euros on {DAY} .
{PER} told {MEDIA} that the bridge in {CITY} would reopen in {MONTH} .
Born in {PLACE} , {PER} studied law at the {UNI} .
The {SPORT} will be held in {COUNTRY} for the first time .
{PER} won the {SPORT} in {YEAR} , beating {PER} in the final .
Most people in {REGION} speak {LANG} at home .
{CO} and {CO} have agreed to merge , creating the largest firm of its kind in {COUNTRY} .
Thousands of fans gathered in {CITY} to watch {CLUB} play .
The {NAT} minister met {PER} in {CITY} on {DAY} .
{CLUB} signed the {NAT} striker {PER} for {NUM} million euros .
{PER} has written a new version of {BOOK} for children .
Rain is expected across {REGION} and {REGION} over the weekend .
{COUNTRY} will send {NUM} athletes to the {SPORT} .
Engineers at {MAKER} in {CITY} designed the new {PRODUCT} .
A copy of {BOOK} signed by its author sold for {NUM} thousand dollars in {CITY} .
On {DAY} , {PER} flew from {CITY} to {CITY} to meet {PER} .
The {ORCH} will perform {MUSIC} in {CITY} next month .
{PER} , who grew up speaking {LANG} , now teaches in {CITY} .
The {NAT} company {CO} reported higher profits on {DAY} .
Protesters marched through {CITY} on {DAY} .
{BODY} said it would move its headquarters from {CITY} to {CITY} .
{REGION} is famous for its wine , and {PER} has worked there for {NUM} years .
Last year {NUM} million tourists visited {COUNTRY} , most of them from {COUNTRY} .
The {PRODUCT} went on sale in {COUNTRY} on {DAY} .
{PER} , {PER} and {PER} founded {CO} in {YEAR} .
The report by {BODY} praised schools in {REGION} .
In {YEAR} , {SUR} became the first {NAT} woman to win the {SPORT} .
{MEDIA} reported that {CO} will cut {NUM} jobs in {CITY} .
The {NAT} and {NAT} foreign ministers met in {CITY} on {DAY} .
{FILM} won the top prize at the {FEST} .
The {NAT} writer {PER} has won the {AWARD} .
Schools in {REGION} will teach {LANG} from {MONTH} .
{MAKER} makes the {PRODUCT} in a factory near {CITY} .
The {NAT} ambassador to {COUNTRY} , {PER} , resigned on {DAY} .
The {UNI} will open a campus in {COUNTRY} in {YEAR} .
Under coach {PER} , {CLUB} have not lost a game since {MONTH} .
{PER} ( {CLUB} ) was the best player of the {SPORT} .
Residents of {CITY} voted to rename the main square after {PER} .
The meeting was moved to {DAY} because {NUM} people could not attend .
Prices rose by {NUM} percent in {MONTH} , the highest rise since {YEAR} .
The new bridge is {NUM} metres long and took {SMALL} years to build .
"""
TEST_ONLY = """\
{COUNTRY} has asked {BODY} to look into the sinking of a ferry near {CITY} .
After {SMALL} days in hospital , {PER} returned to {CITY} .
Fans of {CLUB} travelled to {PLACE} for the match .
{BOOK} was written by {PER} , who teaches {LANG} in {CITY} .
Workers at the {MAKER} plant in {REGION} went on strike on {DAY} .
The {ORCH} played {MUSIC} to open the {FEST} .
Tourists from {COUNTRY} , {COUNTRY} and {COUNTRY} filled the hotels of {CITY} .
{MEDIA} named {PER} its reporter of the year .
Why did {MAKER} stop selling the {PRODUCT} in {COUNTRY} ?
{SUR} 's goal gave {COUNTRY} its first win at the {SPORT} .
The {NAT} actor {PER} stars in {FILM} , which opens on {DAY} .
A statue of {PER} was unveiled at the {UNI} .
Nobody was hurt when part of the roof fell in on {DAY} morning .
{PER} , {PER} and {PER} shared the {AWARD} in {YEAR} .
"""

TYPES = {
    "PER": "PER", "SUR": "PER",
    "CITY": "LOC", "COUNTRY": "LOC", "REGION": "LOC",
    "CO": "ORG", "MAKER": "ORG", "BODY": "ORG", "MEDIA": "ORG", "CLUB": "ORG", "UNI": "ORG", "ORCH": "ORG",
    "NAT": "MISC", "LANG": "MISC", "SPORT": "MISC", "FEST": "MISC", "AWARD": "MISC", "BOOK": "MISC",
    "FILM": "MISC", "MUSIC": "MISC", "PRODUCT": "MISC",
}
"""The entity type of each slot ({PLACE} is a city, a comma and its country: two LOCs)."""

_SLOT = re.compile(r"\{([A-Z]+)\}")


def templates() -> tuple[list[str], list[str]]:
    """The shared templates and the test-only ones."""
    return SHARED.splitlines(), TEST_ONLY.splitlines()


def _divide(items: list, name: str) -> dict[str, list]:
    """``items`` split into train, dev and test by ``SHARES``, the same way on every run."""
    items = sorted(items, key=str)
    random.Random(f"{SEED}:{name}").shuffle(items)
    n_dev = max(1, round(len(items) * SHARES["dev"]))
    n_test = max(1, round(len(items) * SHARES["test"]))
    n_train = len(items) - n_dev - n_test
    return {"train": items[:n_train], "dev": items[n_train:n_train + n_dev], "test": items[n_train + n_dev:]}


def pools() -> dict[str, dict[str, list[list]]]:
    """Every slot's names by split, in groups that are drawn equally often: a culture's names,
    a fixed list, or the names one pattern builds. Pools are divided before names are built."""
    countries = _divide(COUNTRIES, "countries")
    people = {culture: (_divide(first, f"{culture}:first"), _divide(last, f"{culture}:last"), family_first)
              for culture, (first, last, family_first) in PEOPLE.items()}
    fixed = {slot: _divide(items, slot) for slot, items in (
        ("CO", COMPANIES), ("BODY", BODIES), ("MEDIA", MEDIA), ("LANG", LANGUAGES), ("SPORT", SPORT_EVENTS),
        ("FEST", FESTIVALS), ("AWARD", AWARDS), ("BOOK", BOOKS), ("FILM", FILMS), ("MUSIC", MUSIC),
        ("PRODUCT", PRODUCTS))}
    out: dict[str, dict[str, list[list]]] = {}
    for split in SIZES:
        mine = countries[split]
        cities = [city for _, _, cities, _ in mine for city in cities]
        nationalities = [nationality for _, nationality, _, _ in mine]

        def built(patterns: list[str]) -> list[list[str]]:
            """One group per pattern, filled with this split's cities or nationalities."""
            return [[p.format(CITY=c) for c in cities] if "{CITY}" in p else [p.format(NAT=n) for n in nationalities]
                    for p in patterns]

        def mixed(slot: str, patterns: list[str]) -> list[list[str]]:
            """A fixed list as often as all its patterns together."""
            return [fixed[slot][split]] * len(patterns) + built(patterns)

        out[split] = {
            "PER": [[f"{last} {first}" if family_first else f"{first} {last}"
                     for first in firsts[split] for last in lasts[split]]
                    for firsts, lasts, family_first in people.values()],
            "SUR": [lasts[split] for _, lasts, _ in people.values()],
            "CITY": [cities],
            "COUNTRY": [[country for country, _, _, _ in mine]],
            "REGION": [[region for _, _, _, regions in mine for region in regions]],
            "PLACE": [[(city, country) for country, _, cities_of, _ in mine for city in cities_of]],
            "NAT": [nationalities],
            "CO": mixed("CO", COMPANY_PATTERNS),
            "MAKER": [[name for name in fixed["CO"][split] if name in MAKERS]],
            "BODY": mixed("BODY", BODY_PATTERNS),
            "MEDIA": mixed("MEDIA", MEDIA_PATTERNS),
            "SPORT": mixed("SPORT", SPORT_PATTERNS),
            "CLUB": built(CLUB_PATTERNS),
            "UNI": built(UNIVERSITY_PATTERNS),
            "ORCH": built(ORCHESTRA_PATTERNS),
            **{slot: [fixed[slot][split]] for slot in ("LANG", "FEST", "AWARD", "BOOK", "FILM", "MUSIC", "PRODUCT")},
        }
    return out


def _filler(slot: str, rng: random.Random) -> list[str]:
    if slot == "NUM":
        return [str(rng.choice([rng.randint(2, 20), rng.randint(21, 95)]))]
    if slot == "SMALL":
        return [str(rng.randint(2, 9))]
    if slot == "YEAR":
        return [str(rng.randint(1952, 2023))]
    if slot == "SCORE":
        return [str(rng.randint(1, 4)), "-", str(rng.randint(0, 3))]
    return [rng.choice(DAYS if slot == "DAY" else MONTHS)]


def _entity(text: str, kind: str) -> tuple[list[str], list[str]]:
    words = text.split()
    return words, [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)


def fill(template: str, pool: dict[str, list[list]], rng: random.Random) -> tuple[list[str], list[str]]:
    """One sentence from a template: its words and their BIO tags; no name twice in it."""
    words: list[str] = []
    tags: list[str] = []
    used: set[str] = set()
    for token in template.split():
        slot = _SLOT.fullmatch(token)
        if not slot:
            words.append(token)
            tags.append("O")
            continue
        slot = slot.group(1)
        if slot not in pool:
            new = _filler(slot, rng)
            words += new
            tags += ["O"] * len(new)
            continue
        groups = [[name for name in group if str(name) not in used] for group in pool[slot]]
        choice = rng.choice(rng.choice([group for group in groups if group]))
        used.add(str(choice))
        if slot == "PLACE":
            city, country = choice
            parts = [_entity(city, "LOC"), ([","], ["O"]), _entity(country, "LOC")]
        else:
            parts = [_entity(choice, TYPES[slot])]
        for new_words, new_tags in parts:
            words += new_words
            tags += new_tags
    return words, tags


def generate() -> dict[str, list[tuple[list[str], list[str]]]]:
    """The three splits. Templates are taken in shuffled rounds, so each is used about equally."""
    shared, test_only = templates()
    pool = pools()
    rng = random.Random(SEED)
    seen: set[tuple[str, ...]] = set()
    out: dict[str, list[tuple[list[str], list[str]]]] = {}
    for split, size in SIZES.items():
        allowed = shared + test_only if split == "test" else shared
        rows: list[tuple[list[str], list[str]]] = []
        order: list[str] = []
        while len(rows) < size:
            if not order:
                order = allowed[:]
                rng.shuffle(order)
            template = order.pop()
            for _ in range(50):
                words, tags = fill(template, pool[split], rng)
                if tuple(words) not in seen:
                    seen.add(tuple(words))
                    rows.append((words, tags))
                    break
        out[split] = rows
    return out


def entities(words: list[str], tags: list[str]) -> list[tuple[str, str]]:
    """The (type, text) of each entity in a sentence; text is the entity's words joined by spaces."""
    found: list[tuple[str, list[str]]] = []
    for word, tag in zip(words, tags):
        if tag.startswith("B-"):
            found.append((tag[2:], [word]))
        elif tag.startswith("I-"):
            found[-1][1].append(word)
    return [(kind, " ".join(text)) for kind, text in found]


def check(splits: dict[str, list[tuple[list[str], list[str]]]]) -> None:
    """Sizes, BIO tags, and no dev or test entity seen in train (nor its words in a train sentence)."""
    assert {split: len(rows) for split, rows in splits.items()} == SIZES
    shared, test_only = templates()
    assert len(shared) + len(test_only) >= 50 and 0.15 <= len(test_only) / (len(shared) + len(test_only)) <= 0.25
    names = {split: {text for words, tags in rows for _, text in entities(words, tags)}
             for split, rows in splits.items()}
    kinds: dict[str, str] = {}
    for split, rows in splits.items():
        for words, tags in rows:
            assert len(words) == len(tags)
            for i, tag in enumerate(tags):
                assert tag == "O" or (tag[:2] in ("B-", "I-") and tag[2:] in ("PER", "LOC", "ORG", "MISC")), tag
                assert not tag.startswith("I-") or tags[i - 1][2:] == tag[2:] and i > 0, (words, tags)
            for kind, text in entities(words, tags):
                assert kinds.setdefault(text, kind) == kind, f"{text!r} is both {kinds[text]} and {kind}"
    train_text = "\n".join(" " + " ".join(words).lower() + " " for words, _ in splits["train"])
    for split in ("dev", "test"):
        assert not names[split] & names["train"], sorted(names[split] & names["train"])
        seen = sorted(name for name in names[split] if f" {name.lower()} " in train_text)
        assert not seen, f"{split} entities whose words occur in a train sentence: {seen}"


def main() -> None:
    splits = generate()
    check(splits)
    here = Path(__file__).resolve().parent
    for split, rows in splits.items():
        lines = [json.dumps({"tokens": words, "tags": tags}, ensure_ascii=False) for words, tags in rows]
        (here / f"entities-{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"entities-{split}.jsonl: {len(rows)} sentences")


if __name__ == "__main__":
    main()
